#include "farm/gateway.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/directories.h"
#include "common/errno_error.h"
#include "common/signal_fd.h"
#include "common/unique_fd.h"
#include "devices/virtio/net/net_backend.h"
#include "farm/address_table.h"
#include "farm/clone_fleet.h"
#include "farm/containment.h"
#include "farm/dns_sinkhole.h"
#include "farm/farm_events.h"
#include "packet/frame.h"
#include "packet/rewrite.h"
#include "packet/udp_reply.h"

namespace vmhive::farm {
namespace {

constexpr size_t kVnetHeader = 12;
constexpr size_t kMessageBuffer = kVnetHeader + 65550;  // the largest frame a tap hands over
constexpr int kBatch = 64;                               // frames taken from one link before the next
constexpr int kMaxEvents = 64;

constexpr uint64_t kEventsPerClone = 8;                  // contained, reflected and dns events of one clone
constexpr uint16_t kDnsPort = 53;
// The timer's ticks: idle clones are reclaimed at each, so a scan's clones go a few at a time
// rather than a second's worth at once (each one's teardown costs the host CPU).
constexpr uint32_t kTicksPerSecond = 10;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpSynAck = 0x12;
constexpr uint8_t kIcmpEchoRequest = 8;

enum class Source : uint32_t { kOutside = 1, kTimer, kSignals, kHold, kLink, kForensics, kVmmAlert };
uint64_t tag(Source source, CloneId id = 0) { return uint64_t{static_cast<uint32_t>(source)} << 32 | id; }

// The event loop's epoll set: each descriptor tagged with what it is, and whose (tag()).
class EpollSet final : public CloneSocketWatcher {
 public:
  explicit EpollSet(UniqueFd epoll) : epoll_(std::move(epoll)) {}

  int fd() const { return epoll_.get(); }
  Result<void> watch(int fd, uint64_t what);
  Result<void> watch(int fd, CloneSocket socket, CloneId clone) override;
  void unwatch(int fd) override { ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr); }

 private:
  UniqueFd epoll_;
};

Result<void> EpollSet::watch(int fd, uint64_t what) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = what;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) return errno_error("epoll_ctl failed");
  return {};
}

Result<void> EpollSet::watch(int fd, CloneSocket socket, CloneId clone) {
  const Source source = socket == CloneSocket::kHold     ? Source::kHold
                        : socket == CloneSocket::kAlerts ? Source::kVmmAlert
                                                         : Source::kForensics;
  return watch(fd, tag(source, clone));
}

// The fleet counts clone failures and breaches (CloneFleet::Counters).
struct Counters {
  uint64_t outside_frames = 0, clone_frames = 0, forwarded_in = 0, forwarded_out = 0, arp_replies = 0,
           not_ours = 0, no_clone_ready = 0, send_failures = 0, contained = 0, bound = 0, reclaimed = 0, evicted = 0,
           reflected = 0, dns_answers = 0, rate_limited = 0, stale = 0, flows = 0;
  std::array<uint64_t, 9> refused{};
};

class Gateway {
 public:
  Gateway(const FarmConfig& config, std::string binary, SignalFd signals, virtio::NetBackend outside, UniqueFd epoll,
          UniqueFd timer)
      : config_(config),
        signals_(std::move(signals)),
        outside_(std::move(outside)),
        epoll_(std::move(epoll)),
        timer_(std::move(timer)),
        table_(config.budget),
        events_(AlertTargets{config.alert_socket, config.alert_webhook}),
        fleet_(config, std::move(binary), signals_.previous_mask(), epoll_, table_, events_),
        buffer_(kMessageBuffer) {}

  Result<void> run();

 private:
  void on_outside();
  void on_link(CloneId id);
  void on_timer();
  void emit(const nlohmann::ordered_json& event) { events_.emit(event); }
  // A new address's clone (of the profile serving `port`), bound to it;
  // `reflected_from` names the clone whose packet made it (0: the outside).
  // Null if no clone can be had.
  Clone* bind_new(uint32_t address, uint16_t port, Clock::time_point now, CloneId reflected_from);
  void send_outside(std::span<uint8_t> message);
  void send_to_clone(Clone& clone, std::span<uint8_t> message);
  // A clone's frame (parsed_, in buffer_) that is not a reply, reflected
  // into the farm: to the destination's clone, bound now if it has none.
  // `opens`: the packet starts something (only such a packet binds a new clone). False if the
  // sender is gone (a binding made for it evicted it): the caller must not touch it.
  bool reflect(CloneId from_id, bool opens, std::span<uint8_t> message, std::span<uint8_t> frame,
               Clock::time_point now);
  // A reply to a flow another clone started (`origin`), taken back to it.
  void reply_inside(Clone& from, CloneId origin, std::span<uint8_t> message, std::span<uint8_t> frame);
  // A DNS query from a clone answered by the sinkhole; true if it was one.
  bool answer_dns(Clone& clone);
  void report_contained(Clone& clone);
  // A clone that did what a clean one does not (`reason`): a breach alert,
  // and the clone retired (CloneFleet::retire_breached): its address
  // unbound (it gets a new clone), nothing more of it sent outside, and
  // with a forensics directory snapshotted and stopped, without one ended
  // at once. True if it was ended (the caller must not touch it).
  bool breach(Clone& clone, const char* reason, nlohmann::ordered_json details);
  nlohmann::ordered_json flow_of(const packet::ParsedFrame& parsed) const;
  // What the clone's VMM reports on its alert socket (a write to its protected text).
  void on_vmm_alert(CloneId id);
  // The frame in a message just read into buffer_ (`length` bytes, virtio
  // header first), parsed; null if it is too short or refused (counted).
  const packet::ParsedFrame* parse_message(ssize_t length, std::span<uint8_t>& message, std::span<uint8_t>& frame);
  // The gateway's answer to an ARP request, in arp_reply_ (virtio header first).
  std::span<const uint8_t> arp_reply(const packet::ArpView& request);
  nlohmann::ordered_json counters() const;

  const FarmConfig& config_;
  SignalFd signals_;
  virtio::NetBackend outside_;
  EpollSet epoll_;
  UniqueFd timer_;
  AddressTable table_;
  FarmEvents events_;
  CloneFleet fleet_;  // after what it refers to: the epoll set, the table and the events
  Counters counters_;
  uint32_t ticks_since_stats_ = 0;
  std::vector<uint8_t> buffer_;
  packet::ParsedFrame parsed_;
  std::array<uint8_t, kVnetHeader + packet::kArpReplyLength> arp_reply_{};
  std::array<uint8_t, kMaxDnsAnswer> dns_answer_{};
  std::array<uint8_t, kVnetHeader + packet::kUdpReplyHeaders + kMaxDnsAnswer> dns_reply_{};
};

void Gateway::send_outside(std::span<uint8_t> message) {
  std::memset(message.data(), 0, kVnetHeader);  // no offloads on either side
  if (::write(outside_.fd(), message.data(), message.size()) < 0) ++counters_.send_failures;
}

const packet::ParsedFrame* Gateway::parse_message(ssize_t length, std::span<uint8_t>& message,
                                                  std::span<uint8_t>& frame) {
  if (static_cast<size_t>(length) < kVnetHeader) return nullptr;
  message = std::span(buffer_.data(), static_cast<size_t>(length));
  frame = message.subspan(kVnetHeader);
  parsed_ = packet::parse_frame(frame);
  if (!parsed_.ok()) {
    ++counters_.refused[static_cast<size_t>(parsed_.refusal)];
    return nullptr;
  }
  return &parsed_;
}

std::span<const uint8_t> Gateway::arp_reply(const packet::ArpView& request) {
  const size_t length = packet::build_arp_reply(request, config_.gateway_mac, std::span(arp_reply_).subspan(kVnetHeader));
  return std::span(arp_reply_.data(), kVnetHeader + length);
}

void Gateway::on_outside() {
  for (int n = 0; n < kBatch; ++n) {
    const ssize_t length = ::read(outside_.fd(), buffer_.data(), buffer_.size());
    if (length < 0) return;  // EAGAIN: all taken
    ++counters_.outside_frames;
    std::span<uint8_t> message, frame;
    if (parse_message(length, message, frame) == nullptr) continue;
    packet::ParsedFrame& parsed = parsed_;
    if (parsed.kind == packet::FrameKind::kArp) {
      if (parsed.arp.operation != 1 || !config_.range.contains(parsed.arp.target_ip)) continue;
      const auto reply = arp_reply(parsed.arp);
      if (::write(outside_.fd(), reply.data(), reply.size()) < 0) ++counters_.send_failures;
      ++counters_.arp_replies;
      continue;
    }
    const uint32_t address = parsed.ip.destination;
    if (!config_.range.contains(address)) {
      ++counters_.not_ours;
      continue;
    }
    const Clock::time_point now = Clock::now();
    Clone* clone = nullptr;
    if (const Binding* binding = table_.touch(address, now)) {
      clone = fleet_.find(binding->clone);
      if (clone == nullptr) table_.unbind(address);  // its clone is gone: the address is free again
    }
    if (clone == nullptr) {
      clone = bind_new(address, parsed.ip.destination_port, now, kFromOutside);
      if (clone == nullptr) {
        ++counters_.no_clone_ready;  // dropped, as a busy host's would be; the sender retries
        continue;
      }
    }
    const ServiceProfile& profile = config_.profiles[clone->profile];
    std::memcpy(clone->peer_mac.data(), parsed.source_mac, 6);
    if (clone->flows.note_inbound(
            FlowKey{parsed.ip.source, parsed.ip.source_port, parsed.ip.destination_port, parsed.ip.protocol}, kFromOutside))
      ++counters_.flows;
    packet::set_ethernet_addresses(frame, profile.inside_mac, config_.gateway_mac);
    packet::rewrite_ipv4_destination(frame, parsed, profile.inside_address);
    send_to_clone(*clone, message);
    ++counters_.forwarded_in;
  }
}

Clone* Gateway::bind_new(uint32_t address, uint16_t port, Clock::time_point now, CloneId reflected_from) {
  const unsigned profile = profile_for_port(config_, port);
  Clone* clone = fleet_.take_held(profile);
  if (clone == nullptr) return nullptr;
  // Frames queue on its link until it runs: at once if it is ready, else when it says so.
  if (clone->ready) fleet_.let_go(*clone);
  clone->live = true;
  clone->outside_address = address;
  const ServiceProfile& served = config_.profiles[profile];
  clone->rate_limit = RateLimit(served.rate_limit_pps, served.rate_limit_burst, now);
  if (!epoll_.watch(clone->link.get(), tag(Source::kLink, clone->id)).ok()) ++counters_.send_failures;
  if (const auto evicted = table_.bind(address, clone->id, profile, now)) {
    ++counters_.evicted;
    fleet_.end(evicted->clone, "evicted");
  }
  ++counters_.bound;
  nlohmann::ordered_json event{
      {"event", "bound"}, {"address", ipv4_text(address)}, {"clone", clone->id}, {"profile", served.name}};
  if (reflected_from != kFromOutside) event["reflected_from"] = reflected_from;
  emit(event);
  fleet_.refill();  // a replacement starts restoring at once
  return clone;
}

void Gateway::send_to_clone(Clone& clone, std::span<uint8_t> message) {
  std::memset(message.data(), 0, kVnetHeader);
  if (::send(clone.link.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
    ++counters_.send_failures;
}

void Gateway::on_link(CloneId id) {
  Clone* found = fleet_.find(id);
  if (found == nullptr) return;
  Clone& clone = *found;
  const ServiceProfile& profile = config_.profiles[clone.profile];
  for (int n = 0; n < kBatch; ++n) {
    const ssize_t length = ::recv(clone.link.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (length <= 0) return;
    ++counters_.clone_frames;
    std::span<uint8_t> message, frame;
    if (parse_message(length, message, frame) == nullptr) continue;
    packet::ParsedFrame& parsed = parsed_;
    if (parsed.kind == packet::FrameKind::kArp) {
      // The guest looking for a neighbour (its router, its peer): the gateway is every one of them.
      if (parsed.arp.operation != 1) continue;
      const auto reply = arp_reply(parsed.arp);
      (void)::send(clone.link.get(), reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      continue;
    }
    const Clock::time_point now = Clock::now();
    if (!clone.rate_limit.allow(now)) {
      ++counters_.rate_limited;
      continue;
    }
    if (parsed.ip.source != profile.inside_address) {  // not its own address: spoofed, nothing goes anywhere
      report_contained(clone);
      if (!clone.breached && breach(clone, "spoofed source address", flow_of(parsed))) return;
      continue;
    }
    const bool icmp = parsed.ip.protocol == packet::kProtocolIcmp;
    const FlowKey flow{parsed.ip.destination, icmp ? parsed.ip.source_port : parsed.ip.destination_port,
                       icmp ? uint16_t{0} : parsed.ip.source_port, parsed.ip.protocol};
    const auto origin = clone.flows.origin_of_reply(flow, parsed.ip.protocol == packet::kProtocolTcp &&
                                                              (parsed.ip.tcp_flags & kTcpSyn) == 0);
    if (!origin && config_.dns_sinkhole != 0 && answer_dns(clone)) continue;  // a DNS server clone's answers pass
    if (origin) {
      if (profile.containment == Containment::kDrop) {
        report_contained(clone);  // a telescope's clone answers nobody
        continue;
      }
      // A port answering that the profile does not serve: something in the guest started listening.
      if (parsed.ip.protocol == packet::kProtocolTcp && (parsed.ip.tcp_flags & kTcpSynAck) == kTcpSynAck &&
          !profile.ports.empty() &&
          std::find(profile.ports.begin(), profile.ports.end(), parsed.ip.source_port) == profile.ports.end()) {
        report_contained(clone);
        if (!clone.breached && breach(clone, "new listening port", flow_of(parsed))) return;
        continue;
      }
      if (*origin != kFromOutside) {
        reply_inside(clone, *origin, message, frame);
        continue;
      }
      if (clone.breached) {  // a breached clone sends nothing out, not even replies
        report_contained(clone);
        continue;
      }
      packet::set_ethernet_addresses(frame, clone.peer_mac, config_.gateway_mac);
      packet::rewrite_ipv4_source(frame, parsed, clone.outside_address);
      send_outside(message);
      ++counters_.forwarded_out;
      continue;
    }
    // Not a reply: something the clone started, or the tail of a flow it forgot (a TCP segment
    // other than a SYN, an ICMP message other than an echo request: neither opens anything).
    nlohmann::ordered_json details = flow_of(parsed);
    const bool opens = parsed.ip.protocol == packet::kProtocolUdp ||
                       (parsed.ip.protocol == packet::kProtocolTcp && (parsed.ip.tcp_flags & kTcpSynAck) == kTcpSyn) ||
                       (icmp && parsed.ip.icmp_type == kIcmpEchoRequest);
    if (profile.containment == Containment::kReflect) {
      // Binding the destination may evict the least recently active clone: this one, perhaps.
      if (!reflect(id, opens, message, frame, now)) return;
    } else if (opens) {
      report_contained(clone);
    } else {
      ++counters_.stale;  // dropped without a word
      continue;
    }
    if (opens && !clone.breached && breach(clone, "outbound connection", std::move(details))) return;
  }
}

nlohmann::ordered_json Gateway::flow_of(const packet::ParsedFrame& parsed) const {
  return {{"to", ipv4_text(parsed.ip.destination)}, {"protocol", parsed.ip.protocol}, {"port", parsed.ip.destination_port}};
}

void Gateway::report_contained(Clone& clone) {
  ++counters_.contained;
  if (clone.contained++ < kEventsPerClone) {
    nlohmann::ordered_json event{{"event", "contained"}, {"address", ipv4_text(clone.outside_address)}, {"clone", clone.id}};
    event.update(flow_of(parsed_));
    emit(event);
  }
}

bool Gateway::answer_dns(Clone& clone) {
  const packet::Ipv4View& ip = parsed_.ip;
  if (ip.protocol != packet::kProtocolUdp || ip.destination_port != kDnsPort) return false;
  constexpr size_t kUdpHeader = 8;
  const auto frame = std::span<const uint8_t>(buffer_.data() + kVnetHeader, buffer_.size() - kVnetHeader);
  const auto query = frame.subspan(ip.transport_offset() + kUdpHeader, ip.transport_length() - kUdpHeader);
  const DnsAnswer answer = answer_dns_query(query, config_.dns_sinkhole, dns_answer_);
  if (answer.length == 0) {
    report_contained(clone);  // not a query the sinkhole answers: it goes nowhere
    return true;
  }
  ++counters_.dns_answers;
  if (clone.dns_queries++ < kEventsPerClone)
    emit({{"event", "dns"}, {"address", ipv4_text(clone.outside_address)}, {"clone", clone.id},
          {"name", answer.name_text()}, {"type", answer.query_type}, {"answer", ipv4_text(config_.dns_sinkhole)}});
  std::fill(dns_reply_.begin(), dns_reply_.begin() + kVnetHeader, uint8_t{0});
  const size_t length = packet::build_udp_reply(parsed_, std::span<const uint8_t>(dns_answer_.data(), answer.length),
                                                std::span(dns_reply_).subspan(kVnetHeader));
  if (length != 0)
    (void)::send(clone.link.get(), dns_reply_.data(), kVnetHeader + length, MSG_DONTWAIT | MSG_NOSIGNAL);
  return true;
}

bool Gateway::reflect(CloneId from_id, bool opens, std::span<uint8_t> message, std::span<uint8_t> frame,
                      Clock::time_point now) {
  packet::ParsedFrame& parsed = parsed_;
  const uint32_t destination = parsed.ip.destination;
  const Clone* sender = fleet_.find(from_id);
  if (sender == nullptr) return false;
  if (destination == sender->outside_address || destination == config_.profiles[sender->profile].inside_address)
    return true;
  Clone* target = nullptr;
  if (const Binding* binding = table_.touch(destination, now)) target = fleet_.find(binding->clone);
  if (target == nullptr) {
    if (!opens) {  // the tail of a flow to an address with no clone: it binds nothing
      ++counters_.stale;
      return true;
    }
    table_.unbind(destination);
    target = bind_new(destination, parsed.ip.destination_port, now, from_id);
    if (target == nullptr) {
      ++counters_.no_clone_ready;
      return fleet_.find(from_id) != nullptr;
    }
  }
  Clone* found = fleet_.find(from_id);  // the binding may have evicted it
  if (found == nullptr) return false;
  Clone& from = *found;
  if (target == &from) return true;
  ++counters_.reflected;
  if (from.reflected++ < kEventsPerClone) {
    nlohmann::ordered_json event{{"event", "reflected"}, {"address", ipv4_text(from.outside_address)}, {"clone", from.id}};
    event.update(flow_of(parsed));
    event["to_clone"] = target->id;
    emit(event);
  }
  const ServiceProfile& profile = config_.profiles[target->profile];
  packet::rewrite_ipv4_source(frame, parsed, from.outside_address);
  if (target->flows.note_inbound(
          FlowKey{parsed.ip.source, parsed.ip.source_port, parsed.ip.destination_port, parsed.ip.protocol}, from.id))
    ++counters_.flows;
  packet::set_ethernet_addresses(frame, profile.inside_mac, config_.gateway_mac);
  packet::rewrite_ipv4_destination(frame, parsed, profile.inside_address);
  send_to_clone(*target, message);
  return true;
}

void Gateway::reply_inside(Clone& from, CloneId origin, std::span<uint8_t> message, std::span<uint8_t> frame) {
  Clone* found = fleet_.find(origin);
  if (found == nullptr) return;  // the clone that asked is gone
  Clone& to = *found;
  const ServiceProfile& profile = config_.profiles[to.profile];
  packet::ParsedFrame& parsed = parsed_;
  packet::rewrite_ipv4_source(frame, parsed, from.outside_address);
  packet::set_ethernet_addresses(frame, profile.inside_mac, config_.gateway_mac);
  packet::rewrite_ipv4_destination(frame, parsed, profile.inside_address);
  send_to_clone(to, message);
  ++counters_.reflected;
}

bool Gateway::breach(Clone& clone, const char* reason, nlohmann::ordered_json details) {
  nlohmann::ordered_json alert{{"event", "breach"},
                               {"address", ipv4_text(clone.outside_address)},
                               {"clone", clone.id},
                               {"profile", config_.profiles[clone.profile].name},
                               {"reason", reason}};
  alert.update(details);
  return fleet_.retire_breached(clone, std::move(alert));
}

void Gateway::on_vmm_alert(CloneId id) {
  Clone* found = fleet_.find(id);
  if (found == nullptr) return;
  Clone& clone = *found;
  char text[4096];
  const ssize_t length = ::recv(clone.alerts.get(), text, sizeof text, MSG_DONTWAIT);
  if (length <= 0) {  // its VMM has gone (reaped as it goes) or has nothing more to say
    if (length == 0 || (errno != EAGAIN && errno != EINTR)) {
      epoll_.unwatch(clone.alerts.get());
      clone.alerts.reset();
    }
    return;
  }
  if (clone.breached) return;  // already on its way to a snapshot
  // Lines of the VMM's (vmm/text_write_watch.h); the first that is a text write decides.
  const std::string_view lines(text, static_cast<size_t>(length));
  const size_t end = lines.find('\n');
  const auto alert = nlohmann::json::parse(lines.substr(0, end), nullptr, false);
  nlohmann::ordered_json details{{"guest_address", "?"}};
  if (alert.is_object() && alert.contains("alert") && alert["alert"].is_string() &&
      alert["alert"].get<std::string>() == "kernel_text_write" && alert.contains("guest_address") &&
      alert["guest_address"].is_string())
    details["guest_address"] = alert["guest_address"];
  if (!clone.live) {
    fleet_.end(id);  // a held clone has run nothing of anyone's: it goes
    return;
  }
  (void)breach(clone, "kernel text write", std::move(details));
}

void Gateway::on_timer() {
  uint64_t expirations = 0;
  (void)!::read(timer_.get(), &expirations, sizeof expirations);
  const auto reclaimed = table_.reclaim_idle(Clock::now(), [this](unsigned profile) {
    return std::chrono::duration_cast<Clock::duration>(config_.profiles[profile].idle_timeout);
  });
  for (const Binding& binding : reclaimed) {
    ++counters_.reclaimed;
    if (fleet_.find(binding.clone) == nullptr) continue;
    emit({{"event", "reclaimed"}, {"address", ipv4_text(binding.address)}, {"clone", binding.clone}});
    fleet_.end(binding.clone);
  }
  fleet_.advance_forensics();  // one whose answer never comes ends at its deadline
  fleet_.reap();
  fleet_.refill();
  if (config_.stats_interval_s != 0 && ++ticks_since_stats_ >= config_.stats_interval_s * kTicksPerSecond) {
    ticks_since_stats_ = 0;
    const auto [live, held] = fleet_.live_and_held();
    emit({{"event", "stats"}, {"live", live}, {"held", held}, {"counters", counters()}});
  }
}

nlohmann::ordered_json Gateway::counters() const {
  nlohmann::ordered_json refused = nlohmann::ordered_json::object();
  for (size_t i = 1; i < counters_.refused.size(); ++i)
    if (counters_.refused[i] != 0) refused[packet::refusal_name(static_cast<packet::Refusal>(i))] = counters_.refused[i];
  return {{"outside_frames", counters_.outside_frames}, {"clone_frames", counters_.clone_frames},
          {"flows", counters_.flows},
          {"forwarded_in", counters_.forwarded_in},     {"forwarded_out", counters_.forwarded_out},
          {"arp_replies", counters_.arp_replies},       {"not_ours", counters_.not_ours},
          {"no_clone_ready", counters_.no_clone_ready}, {"send_failures", counters_.send_failures},
          {"contained", counters_.contained},           {"bound", counters_.bound},
          {"reclaimed", counters_.reclaimed},           {"evicted", counters_.evicted},
          {"clone_failures", fleet_.counters().clone_failures}, {"breaches", fleet_.counters().breaches},
          {"reflected", counters_.reflected},           {"dns_answers", counters_.dns_answers},
          {"rate_limited", counters_.rate_limited},     {"stale", counters_.stale},     {"alerts_undelivered", events_.alerts_undelivered()},
          {"refused", refused}};
}

Result<void> Gateway::run() {
  VMHIVE_CHECK(epoll_.watch(outside_.fd(), tag(Source::kOutside)));
  VMHIVE_CHECK(epoll_.watch(timer_.get(), tag(Source::kTimer)));
  VMHIVE_CHECK(epoll_.watch(signals_.fd(), tag(Source::kSignals)));
  fleet_.refill();
  epoll_event events[kMaxEvents];
  for (;;) {
    const int count = ::epoll_wait(epoll_.fd(), events, kMaxEvents, -1);
    if (count < 0) {
      if (errno == EINTR) continue;
      return errno_error("epoll_wait failed");
    }
    for (int i = 0; i < count; ++i) {
      const auto source = static_cast<Source>(events[i].data.u64 >> 32);
      const auto id = static_cast<CloneId>(events[i].data.u64 & 0xffffffff);
      switch (source) {
        case Source::kOutside: on_outside(); break;
        case Source::kLink: on_link(id); break;
        case Source::kHold: fleet_.on_hold(id); break;
        case Source::kTimer: on_timer(); break;
        case Source::kForensics: fleet_.on_forensics(id); break;
        case Source::kVmmAlert: on_vmm_alert(id); break;
        case Source::kSignals:
          for (int signal = signals_.take(); signal != 0; signal = signals_.take()) {
            if (signal == SIGCHLD) {
              fleet_.reap();
              continue;
            }
            fleet_.end_all();
            emit({{"event", "stopped"}, {"signal", signal}, {"counters", counters()}});
            return {};
          }
          break;
      }
    }
  }
}

}  // namespace

Result<void> run_gateway(const FarmConfig& config, const std::string& vmhive_binary) {
  auto signals = SignalFd::block({SIGINT, SIGTERM, SIGCHLD});
  if (!signals.ok()) return signals.error();
  // Consoles go to a directory of this run's own (its start time): clone ids start again at 1
  // each run, and a breached clone's console from an earlier run is kept.
  FarmConfig effective = config;
  if (!config.console_dir.empty()) {
    if (auto made = ensure_private_directory(config.console_dir); !made.ok()) return with_context("console_dir", made.error());
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    effective.console_dir = config.console_dir + "/" +
                            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count());
    if (auto made = ensure_private_directory(effective.console_dir); !made.ok())
      return with_context("console_dir", made.error());
  }
  if (!config.forensics_dir.empty()) {
    if (auto made = ensure_private_directory(config.forensics_dir); !made.ok()) return with_context("forensics_dir", made.error());
    if (auto made = ensure_private_directory(config.forensics_dir + "/sockets"); !made.ok())
      return with_context("forensics_dir", made.error());
  }
  auto outside = virtio::NetBackend::open_tap(config.outside_tap);
  if (!outside.ok()) return with_context("outside_tap", outside.error());
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return errno_error("epoll_create1 failed");
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer.valid()) return errno_error("timerfd_create failed");
  constexpr long kTick = 1'000'000'000 / kTicksPerSecond;
  const itimerspec every_tick{{0, kTick}, {0, kTick}};
  if (::timerfd_settime(timer.get(), 0, &every_tick, nullptr) != 0) return errno_error("timerfd_settime failed");
  Gateway gateway(effective, vmhive_binary, std::move(*signals), std::move(*outside), std::move(epoll), std::move(timer));
  return gateway.run();
}

}  // namespace vmhive::farm
