// vmhived against real clients: curl and the vmhive CLI on its Unix socket,
// real VM processes (test guests where /dev/kvm is usable; without it, VM
// processes that fail at once, which the daemon must reap and report all
// the same).
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "http/http_client.h"
#include "vm_process.h"

namespace vmhive::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct HttpAnswer {
  int status = 0;
  std::string body;
  json document() const { return json::parse(body, nullptr, false); }
};

// A process's descriptors: how many are sockets, and how many are not.
struct FdCount {
  size_t sockets = 0;
  size_t others = 0;
};

FdCount open_fds(pid_t pid) {
  FdCount count;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
    std::error_code gone;
    const std::string target = std::filesystem::read_symlink(entry.path(), gone).string();
    if (gone) continue;
    (target.rfind("socket:", 0) == 0 ? count.sockets : count.others) += 1;
  }
  return count;
}

// Waits until the daemon holds no connection (its listening socket is its
// only socket: a client's closed connection goes when the daemon next sees it).
FdCount settled_fds(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  FdCount count = open_fds(pid);
  while (count.sockets > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    count = open_fds(pid);
  }
  return count;
}

// What each of a process's descriptors is, for a failure message.
std::string describe_fds(pid_t pid) {
  std::string text;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
    std::error_code unreadable;
    text += entry.path().filename().string() + " -> " + std::filesystem::read_symlink(entry.path(), unreadable).string() + "\n";
  }
  return text;
}

// A zombie counts as gone: a VM adopted by a restarted daemon is no child
// of it, and whoever inherited it (init here) reaps it when it likes.
bool process_exists(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::string text;
  std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/stat"), text);
  const size_t close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() || text[close + 2] != 'Z';
}

class Daemon {
 public:
  explicit Daemon(std::vector<std::string> extra = {}, std::vector<std::string> flags = {}) {
    flags_ = std::move(flags);
    std::string pattern = ::testing::TempDir() + "vmhived-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    socket_ = dir_ + "/api.sock";
    extra_ = std::move(extra);
    start();
  }
  ~Daemon() {
    process_.reset();
    // VMs outlive the daemon by design; a test's VMs do not outlive the test.
    for (pid_t pid : vm_pids()) ::kill(pid, SIGKILL);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void start() {
    std::vector<std::string> args = {"--socket", socket_, "--state-dir", dir_ + "/state", "--stop-timeout-ms", "2000"};
    for (const std::string& arg : extra_) args.push_back("--vm-arg=" + arg);
    args.insert(args.end(), flags_.begin(), flags_.end());
    process_.emplace(VmProcess::start_program(vmhived_binary(), args));
    ready_ = wait_serving();
  }
  bool wait_serving() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (process_->wait(0ms)) return false;  // it ended instead
      if (get("/").status == 200) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  void kill_daemon(int signal) {
    process_->send_signal(signal);
    process_->wait(10s);
    process_.reset();
  }

  HttpAnswer request(const std::string& method, const std::string& target, const std::string& body = {},
                     const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"-sS", "--unix-socket", socket_, "-X", method, "-w", "\n%{http_code}",
                                     "-H", "Content-Type: application/json"};
    if (!body.empty()) args.insert(args.end(), {"--data-binary", body});
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("http://localhost" + target);
    const RunResult result = run_program("/usr/bin/curl", args, 30s);
    HttpAnswer answer;
    const size_t newline = result.output.rfind('\n');
    if (newline == std::string::npos) return answer;
    answer.body = result.output.substr(0, newline);
    answer.status = std::atoi(result.output.c_str() + newline + 1);
    return answer;
  }
  // The same through vmhive's own HTTP client (Beast), without a process per request.
  HttpAnswer quick(const std::string& method, const std::string& target, const std::string& body = {}) const {
    http::ClientRequest request;
    request.method = method;
    request.target = target;
    request.body = body;
    auto response = http::send_request(socket_, request);
    if (!response.ok()) return {};
    return {response->status, response->body};
  }
  HttpAnswer get(const std::string& target) const { return request("GET", target); }
  HttpAnswer post(const std::string& target, const std::string& body = {}) const { return request("POST", target, body); }

  RunResult cli(std::vector<std::string> args) const {
    args.insert(args.begin() + 1, {"--daemon", socket_});
    return run_vmhive(args, 30s);
  }

  // Waits until the VM's phase is `phase` (or 30 s pass); its record then.
  json wait_for_phase(const std::string& name, const std::string& phase) const {
    json record;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      record = get("/vms/" + name).document();
      if (record.is_object() && record.value("phase", "") == phase) return record;
      std::this_thread::sleep_for(20ms);
    }
    return record;
  }

  std::vector<pid_t> vm_pids() const {
    std::vector<pid_t> pids;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/state/vms", error)) {
      std::ifstream file(entry.path() / "vm.json");
      const json record = json::parse(file, nullptr, false);
      if (record.is_object() && record.value("pid", 0) > 0) pids.push_back(record.value("pid", 0));
    }
    return pids;
  }

  std::string events() const {
    std::ifstream file(dir_ + "/state/events.jsonl");
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
  bool wait_for_event(const std::string& text) const {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (events().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  // Whether VM `name`'s console log comes to hold `text` (within 20 s).
  bool console_says(const std::string& name, const std::string& text) const {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (get("/vms/" + name + "/logs").body.find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  bool ready() const { return ready_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  const std::string& dir() const { return dir_; }
  const std::string& socket() const { return socket_; }
  std::string log() const { return process_ ? process_->errors() : std::string(); }

 private:
  std::string dir_;
  std::string socket_;
  std::vector<std::string> extra_;
  std::vector<std::string> flags_;
  std::optional<VmProcess> process_;
  bool ready_ = false;
};

std::string vm_config(const std::string& name, const std::string& guest, const std::string& extra = {}) {
  return R"({"name": ")" + name + R"(", "kernel": ")" + guest_path(guest) + R"(", "memory": "32M")" + extra + "}";
}

// A request written to the daemon on a connection of its own, whose answer
// is read later: for requests the daemon answers only once a VM has.
class WaitingClient {
 public:
  WaitingClient(const std::string& socket, const std::string& request)
      : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un where{};
    where.sun_family = AF_UNIX;
    std::snprintf(where.sun_path, sizeof where.sun_path, "%s", socket.c_str());
    sent_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&where), sizeof where) == 0 &&
            ::send(fd_.get(), request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
  }
  bool sent() const { return sent_; }
  bool answered_yet() const {
    pollfd answered{fd_.get(), POLLIN, 0};
    return ::poll(&answered, 1, 0) != 0;
  }
  // The whole answer (its JSON body closed), or what came within 30 s.
  std::string answer() {
    std::string reply;
    char buffer[4096];
    while (reply.find("\r\n\r\n") == std::string::npos || reply.find('}') == std::string::npos) {
      pollfd answered{fd_.get(), POLLIN, 0};
      if (::poll(&answered, 1, 30000) != 1) break;
      const ssize_t got = ::recv(fd_.get(), buffer, sizeof buffer, 0);
      if (got <= 0) break;
      reply.append(buffer, static_cast<size_t>(got));
    }
    return reply;
  }

 private:
  vmhive::UniqueFd fd_;
  bool sent_ = false;
};

TEST(Daemon, SocketIsPrivateAndAnswers) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  struct stat info {};
  ASSERT_EQ(::stat(daemon.socket().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const HttpAnswer root = daemon.get("/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.document().value("name", ""), "vmhived");
  ASSERT_EQ(::stat((daemon.dir() + "/state").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
}

TEST(Daemon, BadInputGetsAClearFourHundredAndTheDaemonKeepsServing) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  struct Case {
    std::string what, method, target, body;
    int status;
    std::string says;
  };
  const std::string hello = guest_path("hello");
  const std::vector<Case> cases = {
      {"malformed JSON", "POST", "/vms", "{\"name\": ", 400, "JSON"},
      {"unknown member", "POST", "/vms", vm_config("a", "hello", R"(, "kernal": "x")"), 400, "kernal"},
      {"wrong type", "POST", "/vms", vm_config("a", "hello", R"(, "vcpus": "two")"), 400, "vcpus"},
      {"out of range", "POST", "/vms", vm_config("a", "hello", R"(, "vcpus": 0)"), 400, "vcpus"},
      {"weight out of range", "POST", "/vms", vm_config("a", "hello", R"(, "cpu": {"weight": 0})"), 400, "weight"},
      {"a socket it cannot hand over", "POST", "/vms", vm_config("a", "hello", R"(, "nets": [{"fd": 3}])"), 400,
       "vmhived's VMs take taps"},
      {"path in the name", "POST", "/vms", vm_config("../etc", "hello"), 400, "name"},
      {"no name", "POST", "/vms", R"({"kernel": ")" + hello + R"("})", 400, "name"},
      {"missing kernel", "POST", "/vms", R"({"name": "k", "kernel": "/nonexistent/vmlinux"})", 400, "/nonexistent"},
      {"no such VM", "GET", "/vms/nobody", "", 404, "nobody"},
      {"path in a target", "GET", "/vms/..%2Fetc", "", 400, "name"},
      {"no such resource", "GET", "/nothing", "", 404, "nothing"},
      {"wrong method", "PUT", "/vms", "", 405, "PUT"},
  };
  for (const Case& c : cases) {
    const HttpAnswer answer = daemon.request(c.method, c.target, c.body);
    EXPECT_EQ(answer.status, c.status) << c.what << ": " << answer.body;
    const json error = answer.document();
    ASSERT_TRUE(error.is_object() && error.contains("error")) << c.what << ": " << answer.body;
    EXPECT_NE(error["error"].get<std::string>().find(c.says), std::string::npos) << c.what << ": " << answer.body;
  }
  // Wrong state and duplicates, on a VM that exists.
  ASSERT_EQ(daemon.post("/vms", vm_config("web-1", "hello")).status, 201);
  EXPECT_EQ(daemon.post("/vms", vm_config("web-1", "hello")).status, 409);
  const HttpAnswer pause = daemon.post("/vms/web-1/pause");
  EXPECT_EQ(pause.status, 409) << pause.body;
  EXPECT_NE(pause.body.find("created"), std::string::npos) << pause.body;
  EXPECT_EQ(daemon.post("/vms/web-1/stop", R"({"forse": true})").status, 400);
  EXPECT_EQ(daemon.post("/vms/web-1/stop", R"({"force": "yes"})").status, 400);
  // A body over the limit.
  const std::string huge = daemon.dir() + "/huge.json";
  std::ofstream(huge) << std::string(2 << 20, 'x');
  const HttpAnswer too_large = daemon.post("/vms", "@" + huge);  // curl reads it from the file
  EXPECT_EQ(too_large.status, 413) << too_large.body;
  EXPECT_EQ(daemon.get("/").status, 200);
  EXPECT_EQ(daemon.get("/vms").document().size(), 1u);
}

TEST(Daemon, CliCreatesListsInspectsAndRemoves) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const std::string file = daemon.dir() + "/vm.json";
  std::ofstream(file) << vm_config("cli-1", "hello", R"(, "labels": {"role": "test"})");
  RunResult created = daemon.cli({"create", "-f", file});
  ASSERT_EQ(created.status, 0) << describe(created);
  EXPECT_EQ(created.output, "cli-1\n");
  RunResult listed = daemon.cli({"ps"});
  ASSERT_EQ(listed.status, 0) << describe(listed);
  EXPECT_NE(listed.output.find("NAME"), std::string::npos);
  EXPECT_NE(listed.output.find("cli-1"), std::string::npos);
  EXPECT_NE(listed.output.find("created"), std::string::npos);
  EXPECT_NE(listed.output.find("role=test"), std::string::npos);
  RunResult as_json = daemon.cli({"ps", "--json"});
  ASSERT_EQ(as_json.status, 0);
  const json list = json::parse(as_json.output, nullptr, false);
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["name"], "cli-1");
  RunResult inspected = daemon.cli({"inspect", "cli-1"});
  ASSERT_EQ(inspected.status, 0);
  EXPECT_EQ(json::parse(inspected.output, nullptr, false)["config"]["labels"]["role"], "test");
  EXPECT_EQ(daemon.cli({"inspect", "nobody"}).status, 4);
  EXPECT_EQ(daemon.cli({"pause", "cli-1"}).status, 1);
  EXPECT_EQ(daemon.cli({"rm", "cli-1"}).status, 0);
  EXPECT_EQ(daemon.cli({"ps", "--json"}).output, "[]\n");
  EXPECT_FALSE(std::filesystem::exists(daemon.dir() + "/state/vms/cli-1"));
  RunResult unreachable = run_vmhive({"ps", "--daemon", daemon.dir() + "/nobody.sock"}, 30s);
  EXPECT_EQ(unreachable.status, 3) << describe(unreachable);
  EXPECT_EQ(lines_of(unreachable.errors).size(), 1u) << unreachable.errors;
}

// Without KVM as with it: a VM process that cannot run (here its KVM device
// does not exist) is reaped, reported with its one error line, and leaves
// no zombie and no cgroup.
TEST(Daemon, AVmProcessThatFailsIsReapedAndReported) {
  Daemon daemon({"--kvm=/nonexistent/kvm"});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(daemon.post("/vms", vm_config("doomed", "hello", R"(, "cpu": {"weight": 300})")).status, 201);
  const HttpAnswer started = daemon.post("/vms/doomed/start");
  ASSERT_EQ(started.status, 200) << started.body;
  const pid_t pid = started.document().value("pid", 0);
  EXPECT_GT(pid, 0);
  const json record = daemon.wait_for_phase("doomed", "exited");
  ASSERT_EQ(record.value("phase", ""), "exited") << record.dump();
  EXPECT_EQ(record["exit"]["reason"], "failed");
  EXPECT_EQ(record["exit"]["status"], 1);
  EXPECT_NE(record["exit"]["message"].get<std::string>().find("/nonexistent/kvm"), std::string::npos) << record.dump();
  EXPECT_TRUE(daemon.wait_for_event(R"("type":"exited")")) << daemon.events();
  EXPECT_FALSE(process_exists(pid)) << "the VM process " << pid << " was left (a zombie?)";
  EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/cpu/vmhive/doomed-" + std::to_string(pid)));
  // It can be started again, and removed.
  EXPECT_EQ(daemon.post("/vms/doomed/start").status, 200);
  daemon.wait_for_phase("doomed", "exited");
  EXPECT_EQ(daemon.request("DELETE", "/vms/doomed").status, 204);
}

TEST(Daemon, RestoreAndCloneRefuseBadInputAndReportWhatCannotRun) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const std::string empty = daemon.dir() + "/not-a-snapshot";
  std::filesystem::create_directory(empty);
  EXPECT_EQ(daemon.post("/snapshots/restore", R"({"name": "r", "snapshot": "/nonexistent/snap"})").status, 400);
  EXPECT_EQ(daemon.post("/snapshots/restore", R"({"name": "r", "snapshot": "relative"})").status, 400);
  EXPECT_EQ(daemon.post("/snapshots/restore", R"({"name": "../r", "snapshot": ")" + empty + R"("})").status, 400);
  EXPECT_EQ(daemon.post("/snapshots/restore", R"({"name": "r", "snapshot": ")" + empty + R"(", "taps": [7]})").status,
            400);
  EXPECT_EQ(daemon.post("/snapshots/restore", R"({"name": "r", "snapshot": ")" + empty + R"(", "tapz": []})").status,
            400);
  EXPECT_EQ(daemon.post("/snapshots/clone", R"({"snapshot": ")" + empty + R"(", "count": 0, "name_prefix": "c"})").status,
            400);
  EXPECT_EQ(daemon.post("/snapshots/clone", R"({"snapshot": ")" + empty + R"(", "count": 5000, "name_prefix": "c"})")
                .status,
            400);
  EXPECT_EQ(daemon.request("GET", "/snapshots/clone").status, 405);
  // A directory that is not a snapshot: the VM process says so and ends.
  const HttpAnswer restored = daemon.post("/snapshots/restore", R"({"name": "r", "snapshot": ")" + empty + R"("})");
  ASSERT_EQ(restored.status, 201) << restored.body;
  const json record = daemon.wait_for_phase("r", "exited");
  EXPECT_EQ(record["exit"]["reason"], "failed") << record.dump();
  EXPECT_FALSE(record["exit"]["message"].get<std::string>().empty());
  EXPECT_EQ(record["restore"]["snapshot"], empty);
  EXPECT_EQ(daemon.request("DELETE", "/vms/r").status, 204);
}

TEST(Daemon, TwoHundredVmsCreatedStartedAndDeletedLeakNothing) {
  Daemon daemon({"--kvm=/nonexistent/kvm"});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const FdCount fds_before = settled_fds(daemon.pid());
  const std::string fds_at_first = describe_fds(daemon.pid());
  for (int i = 0; i < 200; ++i) {
    const std::string name = "vm-" + std::to_string(i);
    ASSERT_EQ(daemon.quick("POST", "/vms", vm_config(name, "hello", R"(, "cpu": {"weight": 200})")).status, 201) << name;
    ASSERT_EQ(daemon.quick("POST", "/vms/" + name + "/start").status, 200) << name;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (daemon.quick("GET", "/vms/" + name).document().value("phase", "") != "exited" &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    ASSERT_EQ(daemon.quick("DELETE", "/vms/" + name).status, 204) << name;
  }
  const FdCount fds_after = settled_fds(daemon.pid());
  EXPECT_EQ(fds_after.sockets, 1u) << describe_fds(daemon.pid());
  EXPECT_EQ(fds_after.others, fds_before.others) << "before:\n" << fds_at_first << "after:\n" << describe_fds(daemon.pid());
  EXPECT_TRUE(std::filesystem::is_empty(daemon.dir() + "/state/vms"));
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup/cpu/vmhive", error))
    EXPECT_EQ(entry.path().filename().string().rfind("vm-", 0), std::string::npos) << entry.path() << " was left";
  EXPECT_EQ(daemon.get("/vms").document().size(), 0u);
}

TEST(Daemon, SurvivesManyConnectionsAndClientsThatGoAway) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  // 1,000 connections at once, each sending half a request and going away.
  std::vector<int> clients;
  const std::string address = daemon.socket();
  for (int i = 0; i < 1000; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un where{};
    where.sun_family = AF_UNIX;
    std::snprintf(where.sun_path, sizeof where.sun_path, "%s", address.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&where), sizeof where) == 0) {
      const char partial[] = "POST /vms HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"na";
      (void)!::send(fd, partial, sizeof partial - 1, MSG_NOSIGNAL);
    }
    clients.push_back(fd);
  }
  // While they hang, another client is served.
  EXPECT_EQ(daemon.get("/").status, 200);
  for (int fd : clients) ::close(fd);
  EXPECT_EQ(daemon.get("/vms").status, 200);
}

// A pool that cannot be set up when the daemon starts (its snapshot not
// there yet) stays in pools.json, listed with its error, until removed; and
// a second daemon on the same state directory is refused.
TEST(Daemon, PoolsThatCannotBeSetUpAreKeptAndOneDaemonOwnsTheState) {
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const RunResult second = run_program(vmhived_binary(), {"--socket", daemon.dir() + "/other.sock", "--state-dir",
                                                          daemon.dir() + "/state"}, 30s);
  EXPECT_NE(second.status, 0);
  EXPECT_NE(second.errors.find("another vmhived uses it"), std::string::npos) << describe(second);
  EXPECT_EQ(daemon.get("/").status, 200) << "the first goes on serving";

  daemon.kill_daemon(SIGTERM);
  const std::string pools = daemon.dir() + "/state/pools.json";
  std::ofstream(pools) << R"([{"name": "later", "snapshot": "/nonexistent/snap", "disks": [], "size": 2}])";
  daemon.start();
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const json listed = daemon.get("/pools").document();
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["name"], "later");
  EXPECT_NE(listed[0]["error"].get<std::string>().find("/nonexistent/snap"), std::string::npos) << listed.dump();
  std::stringstream kept;
  kept << std::ifstream(pools).rdbuf();
  EXPECT_NE(kept.str().find("later"), std::string::npos) << "still in pools.json: " << kept.str();
  EXPECT_EQ(daemon.request("DELETE", "/pools/later").status, 204);
  EXPECT_EQ(daemon.get("/pools").document().size(), 0u);
  std::stringstream removed;
  removed << std::ifstream(pools).rdbuf();
  EXPECT_EQ(removed.str().find("later"), std::string::npos) << removed.str();
}

TEST(Daemon, JailOptionsAreCheckedAndAJailedVmIsRemovedWhole) {
  const RunResult lonely_user = run_program(vmhived_binary(), {"--jail-user", "65534", "--socket", "/nonexistent/s"}, 30s);
  EXPECT_EQ(lonely_user.status, 2) << describe(lonely_user);
  const RunResult bad_user = run_program(vmhived_binary(), {"--jail", "--jail-user", "nobody"}, 30s);
  EXPECT_EQ(bad_user.status, 2) << describe(bad_user);
  Daemon daemon({"--kvm=/nonexistent/kvm"}, {"--jail", "--jail-user", "65534:65534"});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(daemon.post("/vms", vm_config("jailed", "hello")).status, 201);
  ASSERT_EQ(daemon.post("/vms/jailed/start").status, 200);
  EXPECT_EQ(daemon.wait_for_phase("jailed", "exited")["exit"]["reason"], "failed");
  EXPECT_EQ(daemon.post("/vms/jailed/snapshot", R"({"dir": "/tmp/x"})").status, 409);
  EXPECT_EQ(daemon.request("DELETE", "/vms/jailed").status, 204);
  EXPECT_FALSE(std::filesystem::exists(daemon.dir() + "/state/vms/jailed"));
}

// The rest needs VMs that run.

std::string status_field(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", field.size() + 1));
  return {};
}

pid_t only_child_of(pid_t pid) {
  std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  pid_t child = 0;
  children >> child;
  return child;
}

TEST(DaemonWithGuests, AJailedVmSeesNothingOfTheHost) {
  VMHIVE_REQUIRE_KVM();
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: the jail needs root";
  Daemon daemon({}, {"--jail"});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(daemon.post("/vms", vm_config("jailed", "idle")).status, 201);
  ASSERT_EQ(daemon.post("/vms/jailed/start").status, 200);
  const json record = daemon.wait_for_phase("jailed", "running");
  const pid_t launcher = record.value("pid", 0);
  pid_t vm = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  // Confined in steps: its user first, then (its machine built) its filters.
  while ((vm = only_child_of(launcher)) == 0 || status_field(vm, "Uid").rfind("65534", 0) != 0 ||
         status_field(vm, "Seccomp") != "2") {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the jailed VM never ran as its user under its filters: Uid " << status_field(vm, "Uid") << ", Seccomp "
        << status_field(vm, "Seccomp");
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(status_field(vm, "CapEff"), "0000000000000000");
  for (const char* kind : {"mnt", "net", "ipc", "uts", "pid"}) {
    std::error_code error;
    EXPECT_NE(std::filesystem::read_symlink("/proc/" + std::to_string(vm) + "/ns/" + kind, error),
              std::filesystem::read_symlink(std::string("/proc/self/ns/") + kind, error))
        << kind;
  }
  std::vector<std::string> visible;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(vm) + "/root"))
    visible.push_back(entry.path().filename());
  EXPECT_EQ(visible, std::vector<std::string>{"proc"}) << "the jail's root holds only its /proc";
  // Still managed: paused, resumed, its usage counted (the VM is the launcher's child), stopped.
  EXPECT_EQ(daemon.post("/vms/jailed/pause").status, 200);
  EXPECT_EQ(daemon.post("/vms/jailed/resume").status, 200);
  EXPECT_GT(daemon.get("/vms/jailed").document()["usage"]["threads"].get<int>(), 2);
  EXPECT_EQ(daemon.post("/vms/jailed/stop", R"({"force": true})").status, 202);
  daemon.wait_for_phase("jailed", "exited");
  // The launcher was killed: the VM inside dies with it (its parent-death
  // signal survives its change of user), never left running unmanaged.
  const auto gone_by = std::chrono::steady_clock::now() + 20s;
  while (process_exists(vm) && std::chrono::steady_clock::now() < gone_by) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(process_exists(vm)) << "the jailed VM outlived its launcher";
  EXPECT_EQ(daemon.request("DELETE", "/vms/jailed").status, 204);
}

TEST(DaemonWithGuests, FullLifecycleThroughTheApi) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(daemon.post("/vms", vm_config("counter", "counter", R"(, "labels": {"vmhive.stop-input": "q"})")).status,
            201);
  ASSERT_EQ(daemon.post("/vms/counter/start").status, 200);
  json record = daemon.wait_for_phase("counter", "running");
  const auto logs_say = [&](const std::string& text) { return daemon.console_says("counter", text); };
  ASSERT_TRUE(logs_say("counter: ready")) << daemon.get("/vms/counter/logs").body;
  EXPECT_EQ(daemon.post("/vms/counter/pause").status, 200);
  EXPECT_EQ(daemon.get("/vms/counter").document()["phase"], "paused");
  EXPECT_EQ(daemon.post("/vms/counter/resume").status, 200);
  EXPECT_EQ(daemon.post("/vms/counter/console", "p").status, 200);
  EXPECT_TRUE(logs_say("counter: tick="));
  const json inspected = daemon.get("/vms/counter").document();
  EXPECT_GT(inspected["usage"]["resident_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(inspected["uptime_s"].get<double>(), 0.0);
  const std::string metrics = daemon.get("/metrics").body;
  EXPECT_NE(metrics.find("vmhive_vm_up{vm=\"counter\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vmhive_vm_vcpu_seconds_total{vm=\"counter\"}"), std::string::npos);
  // A graceful stop: the guest's console gets "q" and the guest ends itself.
  EXPECT_EQ(daemon.post("/vms/counter/stop").status, 202);
  record = daemon.wait_for_phase("counter", "exited");
  EXPECT_EQ(record["exit"]["reason"], "stopped") << record.dump();
  EXPECT_EQ(record["exit"]["status"], 0) << record.dump();
  EXPECT_EQ(daemon.request("DELETE", "/vms/counter").status, 204);
}

// The counters a VM keeps itself (exits by reason, each device's work) reach
// /metrics and inspect through the VM's control socket.
TEST(DaemonWithGuests, MetricsCountExitsAndDiskTraffic) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const std::string disk = daemon.dir() + "/disk.img";
  std::ofstream(disk).close();
  std::filesystem::resize_file(disk, 1 << 20);
  ASSERT_EQ(daemon.post("/vms", vm_config("store", "disk",
                                          R"(, "cmdline": "mode=serve", "disks": [{"path": ")" + disk +
                                              R"("}], "labels": {"vmhive.stop-input": "q"})"))
                .status,
            201);
  ASSERT_EQ(daemon.post("/vms/store/start").status, 200);
  const auto logs_say = [&](const std::string& text) { return daemon.console_says("store", text); };
  ASSERT_TRUE(logs_say("disk: serving")) << daemon.get("/vms/store/logs").body;
  EXPECT_EQ(daemon.post("/vms/store/console", "w3x").status, 200);
  ASSERT_TRUE(logs_say("disk: wrote seed 3")) << daemon.get("/vms/store/logs").body;
  EXPECT_EQ(daemon.post("/vms/store/console", "v3x").status, 200);
  ASSERT_TRUE(logs_say("disk: verified seed 3")) << daemon.get("/vms/store/logs").body;

  const json stats = daemon.get("/vms/store/stats").document();
  ASSERT_TRUE(stats.is_object()) << daemon.get("/vms/store/stats").body;
  EXPECT_FALSE(daemon.get("/vms/store").document().contains("stats")) << "inspect does not wait for the VM";
  EXPECT_GT(stats["exits"]["mmio"].get<uint64_t>() + stats["exits"]["io"].get<uint64_t>(), 0u) << stats.dump();
  ASSERT_EQ(stats["devices"].size(), 1u) << stats.dump();
  const json& blk = stats["devices"][0];
  EXPECT_EQ(blk["kind"], "virtio-blk");
  EXPECT_EQ(blk["out_bytes"], 256 * 512) << "the pattern: 256 sectors";
  EXPECT_EQ(blk["out_requests"], 256 / 8) << "in 4 KiB requests";
  EXPECT_GE(blk["in_bytes"].get<uint64_t>(), 256u * 512) << "read back";
  EXPECT_GE(blk["other_requests"].get<uint64_t>(), 2u) << "the identify and the flush";
  EXPECT_EQ(blk["failed"], 0);

  const std::string metrics = daemon.get("/metrics").body;
  EXPECT_NE(metrics.find("vmhive_vm_disk_write_bytes_total{vm=\"store\",disk=\"0\"} 131072"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("vmhive_vm_disk_write_requests_total{vm=\"store\",disk=\"0\"} 32"), std::string::npos);
  EXPECT_NE(metrics.find("vmhive_vm_disk_read_bytes_total{vm=\"store\",disk=\"0\"}"), std::string::npos);
  EXPECT_NE(metrics.find("vmhive_vm_exits_total{vm=\"store\",reason=\"mmio\"}"), std::string::npos);
  EXPECT_NE(metrics.find("# TYPE vmhive_vm_exits_total counter"), std::string::npos);
  EXPECT_EQ(metrics.find("vmhive_vm_net_"), std::string::npos) << "no VM has a network device";

  // Read from the VM's counters file, not asked of it: a VM that cannot
  // answer (stopped) still shows its counters, at once.
  const pid_t pid = daemon.get("/vms/store").document().value("pid", 0);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const auto begin = std::chrono::steady_clock::now();
  const std::string frozen = daemon.get("/metrics").body;
  const json frozen_stats = daemon.get("/vms/store/stats").document();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 400ms) << "not left to the 500 ms deadline";
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  EXPECT_NE(frozen.find("vmhive_vm_disk_write_bytes_total{vm=\"store\",disk=\"0\"} 131072"), std::string::npos)
      << frozen;
  EXPECT_NE(frozen.find("vmhive_vm_vcpu_seconds_total{vm=\"store\"}"), std::string::npos) << frozen;
  EXPECT_EQ(frozen_stats["devices"][0]["out_bytes"], 256 * 512) << frozen_stats.dump();
  EXPECT_GT(frozen_stats["vcpu_seconds"].get<double>(), 0.0) << frozen_stats.dump();

  EXPECT_EQ(daemon.post("/vms/store/stop").status, 202);
  EXPECT_EQ(daemon.wait_for_phase("store", "exited")["exit"]["reason"], "stopped");
  // An exited VM has no counters to give, and the metrics do not wait for it.
  EXPECT_EQ(daemon.get("/metrics").body.find("vmhive_vm_disk_"), std::string::npos);
  EXPECT_EQ(daemon.get("/vms/store/stats").status, 409);
  EXPECT_EQ(daemon.get("/vms/nobody/stats").status, 404);
}

TEST(DaemonWithGuests, SnapshotThenRestoreAndCloneThroughTheApi) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(daemon.post("/vms", vm_config("origin", "counter")).status, 201);
  ASSERT_EQ(daemon.post("/vms/origin/start").status, 200);
  daemon.wait_for_phase("origin", "running");
  const auto logs_say = [&](const std::string& name, const std::string& text) { return daemon.console_says(name, text); };
  ASSERT_TRUE(logs_say("origin", "counter: ready"));
  const std::string snapshot = daemon.dir() + "/snap";
  const HttpAnswer taken = daemon.post("/vms/origin/snapshot", R"({"dir": ")" + snapshot + R"(", "resume": false})");
  ASSERT_EQ(taken.status, 200) << taken.body;
  EXPECT_EQ(daemon.wait_for_phase("origin", "exited")["exit"]["reason"], "stopped");
  ASSERT_EQ(daemon.post("/snapshots/restore", R"({"name": "again", "snapshot": ")" + snapshot + R"("})").status, 201);
  const HttpAnswer cloned =
      daemon.post("/snapshots/clone", R"({"snapshot": ")" + snapshot + R"(", "count": 3, "name_prefix": "c"})");
  ASSERT_EQ(cloned.status, 201) << cloned.body;
  EXPECT_EQ(cloned.document().size(), 3u);
  for (const char* name : {"again", "c-0", "c-1", "c-2"}) {
    const json running = daemon.wait_for_phase(name, "running");
    EXPECT_EQ(running["phase"], "running") << name;
    if (::geteuid() == 0) {  // a restored VM has a cgroup of its own too
      std::stringstream text;
      text << std::ifstream("/proc/" + std::to_string(running.value("pid", 0)) + "/cgroup").rdbuf();
      EXPECT_NE(text.str().find("/vmhive/restored-" + std::to_string(running.value("pid", 0))), std::string::npos)
          << name << ": " << text.str();
    }
    EXPECT_EQ(daemon.post(std::string("/vms/") + name + "/console", "m7\n").status, 200);
    EXPECT_TRUE(logs_say(name, "counter: mark set to 7")) << name << ": " << daemon.get(std::string("/vms/") + name + "/logs").body;
    EXPECT_EQ(daemon.post(std::string("/vms/") + name + "/stop", R"({"force": true})").status, 202);
  }
}

// An `idle` VM of the daemon, started, whose control socket has answered (a
// pause and a resume), then frozen with SIGSTOP: a VM that no longer answers.
// Its pid, or 0 if any step failed (the step's failure is reported).
pid_t start_and_freeze(Daemon& daemon, const std::string& name) {
  EXPECT_EQ(daemon.post("/vms", vm_config(name, "idle")).status, 201);
  EXPECT_EQ(daemon.post("/vms/" + name + "/start").status, 200);
  const pid_t pid = daemon.wait_for_phase(name, "running").value("pid", 0);
  if (pid <= 0 || !daemon.console_says(name, "idle: ready")) return 0;
  if (daemon.post("/vms/" + name + "/pause").status != 200 || daemon.post("/vms/" + name + "/resume").status != 200)
    return 0;
  return ::kill(pid, SIGSTOP) == 0 ? pid : 0;
}

// A VM that does not answer its control socket holds up only the client
// that asked it: the daemon goes on serving everyone else meanwhile.
TEST(DaemonWithGuests, AVmThatDoesNotAnswerHoldsUpOnlyItsOwnRequest) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const pid_t pid = start_and_freeze(daemon, "frozen");
  ASSERT_GT(pid, 0) << daemon.log();

  // The request is in the daemon's socket before the next client connects,
  // so by the time that one is answered the pause has been read and asked.
  WaitingClient asking(daemon.socket(), "POST /vms/frozen/pause HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(asking.sent());
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon.get("/").status, 200);
  EXPECT_EQ(daemon.get("/vms").status, 200);
  EXPECT_EQ(daemon.get("/vms/frozen").document()["phase"], "running");
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s) << "others are not kept waiting for the frozen VM";
  EXPECT_FALSE(asking.answered_yet()) << "the pause waits for the VM";

  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  const std::string reply = asking.answer();
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find(R"("phase":"paused")"), std::string::npos) << reply;
  EXPECT_EQ(daemon.get("/vms/frozen").document()["phase"], "paused");
  EXPECT_EQ(daemon.post("/vms/frozen/stop", R"({"force": true})").status, 202);
}

// A request waiting for a VM that dies is answered with the VM's end, at
// once, and never reaches a later process of that VM.
TEST(DaemonWithGuests, ARequestToAVmThatDiesIsAnsweredWithItsEnd) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const pid_t pid = start_and_freeze(daemon, "doomed");
  ASSERT_GT(pid, 0) << daemon.log();
  WaitingClient asking(daemon.socket(), "POST /vms/doomed/pause HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(asking.sent());
  EXPECT_EQ(daemon.get("/").status, 200);  // answered after the pause was read and asked (see above)
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  const std::string reply = asking.answer();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 4s) << "not left to the 5 s deadline";
  EXPECT_EQ(reply.rfind("HTTP/1.1 409", 0), 0u) << reply;
  // Whichever the daemon saw first: the VM's end, or its control socket closing with it.
  EXPECT_TRUE(reply.find("ended before it answered") != std::string::npos ||
              reply.find("closed it without a reply") != std::string::npos)
      << reply;
  EXPECT_EQ(daemon.wait_for_phase("doomed", "exited")["exit"]["reason"], "killed");
  // Started again, the VM is not paused by the old request.
  ASSERT_EQ(daemon.post("/vms/doomed/start").status, 200);
  ASSERT_TRUE(daemon.console_says("doomed", "idle: ready"));
  EXPECT_EQ(daemon.post("/vms/doomed/console", "p").status, 200);
  EXPECT_TRUE(daemon.console_says("doomed", "idle: alive"));
  EXPECT_EQ(daemon.get("/vms/doomed").document()["phase"], "running");
  EXPECT_EQ(daemon.post("/vms/doomed/stop", R"({"force": true})").status, 202);
}

// A ready pool: held restores of a snapshot that a clone request only has to
// let go; the pool refills, survives a daemon restart (pools.json) and lets
// its held VMs go when removed.
TEST(DaemonWithGuests, ClonesComeFromAReadyPool) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(daemon.post("/vms", vm_config("origin", "idle")).status, 201);
  ASSERT_EQ(daemon.post("/vms/origin/start").status, 200);
  const auto logs_say = [&](const std::string& name, const std::string& text) { return daemon.console_says(name, text); };
  ASSERT_TRUE(logs_say("origin", "idle: ready"));
  const std::string snapshot = daemon.dir() + "/snap";
  ASSERT_EQ(daemon.post("/vms/origin/snapshot", R"({"dir": ")" + snapshot + R"(", "resume": false})").status, 200);
  daemon.wait_for_phase("origin", "exited");

  // Refused: bad members, a snapshot that is no directory, a name that is no name.
  EXPECT_EQ(daemon.request("PUT", "/pools/web", R"({"snapshot": ")" + snapshot + R"(", "size": 0})").status, 400);
  EXPECT_EQ(daemon.request("PUT", "/pools/web", R"({"snapshot": ")" + snapshot + R"(", "sise": 2})").status, 400);
  EXPECT_EQ(daemon.request("PUT", "/pools/web", R"({"snapshot": "/nonexistent"})").status, 400);
  EXPECT_EQ(daemon.request("PUT", "/pools/web", R"({"snapshot": ")" + snapshot + R"(", "name": "other"})").status, 400);
  EXPECT_EQ(daemon.request("PUT", "/pools/-web", R"({"snapshot": ")" + snapshot + R"("})").status, 400);
  EXPECT_EQ(daemon.get("/pools/web").status, 404);

  const HttpAnswer set = daemon.request("PUT", "/pools/web", R"({"snapshot": ")" + snapshot + R"(", "size": 2})");
  ASSERT_EQ(set.status, 201) << set.body;
  const auto pool_has_ready = [&](unsigned wanted) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (daemon.get("/pools/web").document().value("ready", 0u) >= wanted) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  ASSERT_TRUE(pool_has_ready(2)) << daemon.get("/pools/web").body << daemon.events();

  const HttpAnswer cloned =
      daemon.post("/snapshots/clone", R"({"snapshot": ")" + snapshot + R"(", "count": 3, "name_prefix": "p"})");
  ASSERT_EQ(cloned.status, 201) << cloned.body;
  const json pool = daemon.get("/pools/web").document();
  EXPECT_EQ(pool["taken"], 2) << "two were ready; the third was restored when asked for: " << pool.dump();
  EXPECT_TRUE(daemon.wait_for_event(R"("vm":"p-0","type":"started","pid")")) << daemon.events();
  EXPECT_NE(daemon.events().find(R"("pool":"web")"), std::string::npos) << daemon.events();
  for (const char* name : {"p-0", "p-1", "p-2"}) {
    EXPECT_EQ(daemon.wait_for_phase(name, "running")["phase"], "running") << name;
    EXPECT_EQ(daemon.post(std::string("/vms/") + name + "/console", "m7\n").status, 200);
    EXPECT_TRUE(logs_say(name, "idle: mark set to 7")) << name << ": " << daemon.get(std::string("/vms/") + name + "/logs").body;
  }
  // A clone from the pool is a VM like any other: paused, stopped, removed whole.
  EXPECT_EQ(daemon.post("/vms/p-0/pause").status, 200);
  EXPECT_EQ(daemon.post("/vms/p-0/resume").status, 200);
  EXPECT_EQ(daemon.post("/vms/p-0/stop", R"({"force": true})").status, 202);
  daemon.wait_for_phase("p-0", "exited");
  EXPECT_EQ(daemon.request("DELETE", "/vms/p-0").status, 204);
  EXPECT_FALSE(std::filesystem::exists(daemon.dir() + "/state/vms/p-0"));

  // The pool refills, and a restarted daemon keeps it.
  ASSERT_TRUE(pool_has_ready(2)) << daemon.get("/pools/web").body;
  daemon.kill_daemon(SIGKILL);
  daemon.start();
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_TRUE(pool_has_ready(2)) << daemon.get("/pools").body;
  EXPECT_EQ(daemon.get("/pools").document().size(), 1u);
  size_t held_dirs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(daemon.dir() + "/state/held")) {
    (void)entry;
    ++held_dirs;
  }
  EXPECT_EQ(held_dirs, 2u) << "the previous daemon's held VMs were swept";

  EXPECT_EQ(daemon.request("DELETE", "/pools/web").status, 204);
  EXPECT_EQ(daemon.get("/pools/web").status, 404);
  EXPECT_TRUE(std::filesystem::is_empty(daemon.dir() + "/state/held"));
  for (const char* name : {"p-1", "p-2"})
    EXPECT_EQ(daemon.post(std::string("/vms/") + name + "/stop", R"({"force": true})").status, 202);
}

TEST(DaemonWithGuests, PoolsAndClonesThroughTheCli) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(daemon.post("/vms", vm_config("origin", "idle")).status, 201);
  ASSERT_EQ(daemon.post("/vms/origin/start").status, 200);
  daemon.wait_for_phase("origin", "running");
  const std::string snapshot = daemon.dir() + "/snap";
  // Written before the guest's first line, say: a snapshot is whole whenever it is taken.
  ASSERT_EQ(daemon.cli({"snapshot", "origin", snapshot, "--stop"}).status, 0);
  daemon.wait_for_phase("origin", "exited");

  RunResult set = daemon.cli({"pool", "set", "web", snapshot, "--size", "1"});
  ASSERT_EQ(set.status, 0) << set.output;
  EXPECT_NE(set.output.find("web"), std::string::npos) << set.output;
  EXPECT_EQ(daemon.cli({"pool", "set", "web", snapshot, "--size", "0"}).status, 2) << "out of range";
  EXPECT_EQ(daemon.cli({"pool", "set", "bad", daemon.dir() + "/nothing"}).status, 1) << "no snapshot there";
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline && daemon.get("/pools/web").document().value("ready", 0) < 1)
    std::this_thread::sleep_for(20ms);
  RunResult cloned = daemon.cli({"clone", snapshot, "--name-prefix", "q", "--count", "2", "--json"});
  ASSERT_EQ(cloned.status, 0) << cloned.output;
  const json clones = json::parse(cloned.output, nullptr, false);
  ASSERT_TRUE(clones.is_array()) << cloned.output;
  EXPECT_EQ(clones.size(), 2u);
  EXPECT_EQ(daemon.get("/pools/web").document()["taken"], 1);
  EXPECT_EQ(daemon.cli({"clone", snapshot, "--name-prefix", "q", "--console-dir", "/tmp"}).status, 2)
      << "the daemon chooses where a VM's console goes";
  EXPECT_EQ(daemon.cli({"clone", snapshot, "--name-prefix", "q"}).status, 1) << "q-0 exists already";
  RunResult listed = daemon.cli({"pool", "ls", "--json"});
  ASSERT_EQ(listed.status, 0);
  EXPECT_EQ(json::parse(listed.output, nullptr, false).size(), 1u) << listed.output;
  EXPECT_EQ(daemon.cli({"pool", "rm", "web"}).status, 0);
  EXPECT_EQ(daemon.cli({"pool", "rm", "web"}).status, 4);
  for (const char* name : {"q-0", "q-1"}) {
    EXPECT_EQ(daemon.wait_for_phase(name, "running")["phase"], "running");
    EXPECT_EQ(daemon.cli({"stop", "--force", name}).status, 0);
  }
}

TEST(DaemonWithGuests, FullLifecycleThroughTheCli) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const std::string file = daemon.dir() + "/vm.json";
  std::ofstream(file) << vm_config("idle-1", "idle");
  ASSERT_EQ(daemon.cli({"create", "-f", file, "--start"}).status, 0);
  daemon.wait_for_phase("idle-1", "running");
  for (const char* step : {"pause", "resume"}) EXPECT_EQ(daemon.cli({step, "idle-1"}).status, 0) << step;
  RunResult stats = daemon.cli({"stats", "idle-1"});
  EXPECT_EQ(stats.status, 0);
  EXPECT_NE(stats.output.find("idle-1"), std::string::npos);
  EXPECT_EQ(daemon.cli({"rm", "idle-1"}).status, 1);  // running
  EXPECT_EQ(daemon.cli({"stop", "--force", "idle-1"}).status, 0);
  EXPECT_EQ(daemon.wait_for_phase("idle-1", "exited")["exit"]["reason"], "stopped");
  EXPECT_EQ(daemon.cli({"rm", "idle-1"}).status, 0);
}

TEST(DaemonWithGuests, TwentyVmsAndOneKilledLeavesTheOthers) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  for (int i = 0; i < 20; ++i) {
    const std::string name = "idle-" + std::to_string(i);
    ASSERT_EQ(daemon.post("/vms", vm_config(name, "idle")).status, 201);
    ASSERT_EQ(daemon.post("/vms/" + name + "/start").status, 200);
  }
  for (int i = 0; i < 20; ++i) daemon.wait_for_phase("idle-" + std::to_string(i), "running");
  const pid_t victim = daemon.get("/vms/idle-7").document().value("pid", 0);
  ASSERT_GT(victim, 0);
  ::kill(victim, SIGKILL);
  const json record = daemon.wait_for_phase("idle-7", "exited");
  EXPECT_EQ(record["exit"]["reason"], "killed") << record.dump();
  EXPECT_TRUE(daemon.wait_for_event(R"("vm":"idle-7","type":"exited")")) << daemon.events();
  for (int i = 0; i < 20; ++i) {
    if (i == 7) continue;
    EXPECT_EQ(daemon.get("/vms/idle-" + std::to_string(i)).document()["phase"], "running") << i;
  }
  EXPECT_FALSE(process_exists(victim));
}

TEST(DaemonWithGuests, ARestartedDaemonAdoptsItsRunningVms) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  for (const char* name : {"keep-1", "keep-2"}) {
    ASSERT_EQ(daemon.post("/vms", vm_config(name, "idle")).status, 201);
    ASSERT_EQ(daemon.post(std::string("/vms/") + name + "/start").status, 200);
    daemon.wait_for_phase(name, "running");
  }
  const pid_t first = daemon.get("/vms/keep-1").document().value("pid", 0);
  daemon.kill_daemon(SIGKILL);
  EXPECT_TRUE(process_exists(first));
  daemon.start();
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  const json adopted = daemon.get("/vms/keep-1").document();
  EXPECT_EQ(adopted["phase"], "running");
  EXPECT_EQ(adopted["pid"], first);
  EXPECT_TRUE(daemon.wait_for_event(R"("vm":"keep-1","type":"adopted")"));
  // Managed as before: paused, resumed, stopped and reported.
  EXPECT_EQ(daemon.post("/vms/keep-1/pause").status, 200);
  EXPECT_EQ(daemon.post("/vms/keep-1/resume").status, 200);
  EXPECT_EQ(daemon.post("/vms/keep-1/stop", R"({"force": true})").status, 202);
  EXPECT_EQ(daemon.wait_for_phase("keep-1", "exited")["exit"]["reason"], "stopped");
  EXPECT_FALSE(process_exists(first));
  const pid_t second = daemon.get("/vms/keep-2").document().value("pid", 0);
  daemon.kill_daemon(SIGTERM);
  EXPECT_TRUE(process_exists(second)) << "a daemon that ends leaves its VMs running";
}

TEST(DaemonWithGuests, ASeccompViolationIsReported) {
  VMHIVE_REQUIRE_KVM();
  Daemon daemon({"--test-forbidden-call"});
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(daemon.post("/vms", vm_config("bad", "idle")).status, 201);
  ASSERT_EQ(daemon.post("/vms/bad/start").status, 200);
  const json record = daemon.wait_for_phase("bad", "exited");
  EXPECT_EQ(record["exit"]["reason"], "seccomp") << record.dump();
  EXPECT_NE(record["exit"]["message"].get<std::string>().find("socket"), std::string::npos) << record.dump();
  EXPECT_TRUE(daemon.wait_for_event(R"("type":"seccomp_kill")")) << daemon.events();
}

// Xen-style proportional share: two CPU-bound guests on one host CPU with
// weights 1:3 get CPU time within 15 % of 1:3 over 10 seconds.
TEST(DaemonWithGuests, CpuWeightsShareAHostCpu) {
  VMHIVE_REQUIRE_KVM();
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: cgroups need root";
  Daemon daemon;
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(daemon.post("/vms", vm_config("light", "counter", R"(, "cpu": {"weight": 200, "pins": [0]})")).status, 201);
  ASSERT_EQ(daemon.post("/vms", vm_config("heavy", "counter", R"(, "cpu": {"weight": 600, "pins": [0]})")).status, 201);
  ASSERT_EQ(daemon.post("/vms/light/start").status, 200);
  ASSERT_EQ(daemon.post("/vms/heavy/start").status, 200);
  daemon.wait_for_phase("light", "running");
  daemon.wait_for_phase("heavy", "running");
  const auto vcpu_seconds = [&](const char* name) {
    return daemon.get(std::string("/vms/") + name).document()["usage"]["vcpu_seconds"].get<double>();
  };
  const double light_before = vcpu_seconds("light"), heavy_before = vcpu_seconds("heavy");
  std::this_thread::sleep_for(10s);  // the measurement itself: CPU time over a wall-clock interval
  const double light = vcpu_seconds("light") - light_before, heavy = vcpu_seconds("heavy") - heavy_before;
  ASSERT_GT(light, 0.1);
  const double ratio = heavy / light;
  EXPECT_NEAR(ratio, 3.0, 0.45) << "light " << light << " s, heavy " << heavy << " s of vCPU time in 10 s";
  EXPECT_EQ(daemon.post("/vms/light/stop", R"({"force": true})").status, 202);
  EXPECT_EQ(daemon.post("/vms/heavy/stop", R"({"force": true})").status, 202);
}

}  // namespace
}  // namespace vmhive::testing
