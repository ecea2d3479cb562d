#include "daemon/farm_api.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "daemon/daemon_api.h"
#include "farm/address_table.h"

namespace vmhive::daemon {
namespace {

constexpr size_t kConsoleTail = 16 * 1024;

std::string server_sent(const std::string& event_line) { return "data: " + event_line + "\n\n"; }

}  // namespace

FarmApi::FarmApi(FarmSupervisor* farm) : farm_(farm) {
  if (farm_ == nullptr) return;
  farm_->set_subscriber([this](const std::string& line) {
    if (!send_) return;
    const std::set<http::ConnectionId> streams = streams_;  // sending may drop a slow one
    const std::string chunk = server_sent(line);
    for (http::ConnectionId stream : streams) send_(stream, chunk);
  });
}

FarmApi::~FarmApi() {
  if (farm_ != nullptr) farm_->set_subscriber({});
}

bool FarmApi::serves(const std::string& path) {
  return path == "/dashboard" || path == "/farm" || path.rfind("/farm/", 0) == 0;
}

http::Response FarmApi::handle(const http::Request& request, http::ConnectionId connection) {
  if (request.method != "GET") return error_response(405, "the farm's routes only read: GET");
  const std::string& path = request.path;
  if (path == "/dashboard") {
    http::Response page;
    page.content_type = "text/html; charset=utf-8";
    page.body = kDashboardPage;
    page.headers.push_back({"Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"});
    return page;
  }
  if (farm_ == nullptr) return error_response(404, "no farm: start vmhived with --farm CONFIG");
  if (path == "/farm") {
    nlohmann::ordered_json body = farm_->view().to_json();
    nlohmann::ordered_json profiles = nlohmann::ordered_json::array();
    for (const farm::ServiceProfile& profile : farm_->config().profiles)
      profiles.push_back({{"name", profile.name}, {"ports", profile.ports},
                          {"containment", farm::containment_name(profile.containment)}});
    body["profiles"] = profiles;
    body["budget"] = farm_->config().budget;
    return json_response(200, body);
  }
  if (path == "/farm/events") {
    streams_.insert(connection);
    http::Response response;
    response.content_type = "text/event-stream";
    response.headers.push_back({"Cache-Control", "no-store"});
    for (const std::string& line : farm_->view().recent()) response.body += server_sent(line);
    if (response.body.empty()) response.body = ": nothing yet\n\n";  // a comment: the stream is open
    response.stream = true;
    return response;
  }
  constexpr std::string_view kClones = "/farm/clones/";
  constexpr std::string_view kConsole = "/console";
  if (path.size() > kClones.size() + kConsole.size() && path.rfind(kClones, 0) == 0 &&
      path.compare(path.size() - kConsole.size(), kConsole.size(), kConsole) == 0)
    return console(path.substr(kClones.size(), path.size() - kClones.size() - kConsole.size()));
  return error_response(404, "no such farm route: " + path.substr(0, 200));
}

http::Response FarmApi::console(const std::string& address) const {
  if (!farm::parse_ipv4(address).ok()) return error_response(400, "not an IPv4 address: " + address.substr(0, 64));
  const auto clone = farm_->view().clone_at(address);
  if (!clone) return error_response(404, "no clone is bound to " + address);
  // This run's directory, as the farm said; it must lie inside the configured one.
  const std::string& consoles = farm_->view().consoles();
  const std::string& configured = farm_->config().console_dir;
  if (configured.empty() || consoles.rfind(configured + "/", 0) != 0 ||
      consoles.find("/..", configured.size()) != std::string::npos)
    return error_response(404, "the farm keeps no consoles (console_dir in its configuration)");
  const std::string file = consoles + "/clone-" + std::to_string(*clone) + ".log";
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  struct stat info {};
  if (!fd.valid() || ::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode))
    return error_response(404, "clone " + std::to_string(*clone) + " has no console file");
  const off_t size = info.st_size;
  const off_t from = std::max<off_t>(0, size - static_cast<off_t>(kConsoleTail));
  std::string text(static_cast<size_t>(size - from), '\0');
  const ssize_t got = ::pread(fd.get(), text.data(), text.size(), from);
  text.resize(got > 0 ? static_cast<size_t>(got) : 0);
  http::Response response;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::move(text);
  return response;
}

}  // namespace vmhive::daemon
