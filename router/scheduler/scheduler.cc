#include "router/scheduler/scheduler.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/prefix_hash.h"

namespace moeserve::router {

// The owner thread's task queue. Shared with the sinks handed to workers: a task posted after
// Close() is dropped, so a worker event that arrives after the scheduler is gone is harmless.
class Scheduler::Mailbox {
 public:
  using Task = std::function<void()>;

  void Post(Task task) {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    tasks_.push_back(std::move(task));
  }

  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

  // Waits up to `timeout` (forever if infinite) for tasks; returns them. `*closed` when closed.
  std::deque<Task> Take(absl::Duration timeout, bool* closed) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return closed_ || !tasks_.empty(); };
    if (timeout == absl::InfiniteDuration()) {
      mu_.Await(absl::Condition(&ready));
    } else {
      mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    }
    *closed = closed_;
    std::deque<Task> out;
    out.swap(tasks_);
    return out;
  }

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
};

absl::Status SchedulerOptions::Validate() const {
  if (max_waiting < 1) return absl::InvalidArgumentError("scheduler: max_waiting must be >= 1");
  if (max_inflight_per_worker < 1) {
    return absl::InvalidArgumentError("scheduler: max_inflight_per_worker must be >= 1");
  }
  if (affinity_blocks < 0) {
    return absl::InvalidArgumentError("scheduler: affinity_blocks must be >= 0");
  }
  if (!(affinity_load_ratio >= 1.0)) {
    return absl::InvalidArgumentError("scheduler: affinity_load_ratio must be >= 1");
  }
  if (affinity_slack_tokens < 0 || kv_full_penalty_tokens < 0) {
    return absl::InvalidArgumentError("scheduler: token slacks must be >= 0");
  }
  if (poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("scheduler: poll_interval must be > 0");
  }
  return absl::OkStatus();
}

WorkerPick PickWorker(absl::Span<const WorkerView> views, absl::Span<const uint64_t> prompt_hashes,
                      int64_t prompt_tokens, const SchedulerOptions& options, int rotate) {
  const int n = static_cast<int>(views.size());
  auto cost = [&](const WorkerView& v) {
    int64_t c = v.load_tokens;
    if (v.total_kv_blocks > 0 &&
        v.free_kv_blocks * static_cast<int64_t>(v.kv_block_tokens) < prompt_tokens) {
      c += options.kv_full_penalty_tokens;
    }
    return c;
  };
  auto matched = [&](const WorkerView& v) {
    int m = 0;
    if (v.recent_prefixes == nullptr) return 0;
    for (uint64_t h : prompt_hashes) {
      if (!v.recent_prefixes->contains(h)) break;
      ++m;
    }
    return m;
  };

  int least = -1;
  int best_affinity = -1;
  int best_matched = 0;
  for (int k = 0; k < n; ++k) {
    const int w = (rotate % std::max(n, 1) + k) % n;
    const WorkerView& v = views[w];
    if (!v.available) continue;
    if (least < 0) {
      least = w;
    } else {
      const WorkerView& l = views[least];
      const int64_t cv = cost(v), cl = cost(l);
      if (cv < cl ||
          (cv == cl && (v.free_kv_blocks > l.free_kv_blocks ||
                        (v.free_kv_blocks == l.free_kv_blocks && v.inflight < l.inflight)))) {
        least = w;
      }
    }
    const int m = matched(v);
    if (m > best_matched || (m == best_matched && m > 0 && cost(v) < cost(views[best_affinity]))) {
      best_matched = m;
      best_affinity = w;
    }
  }
  WorkerPick pick;
  pick.worker = least;
  if (least < 0 || best_affinity < 0 || best_affinity == least) {
    if (least >= 0 && best_affinity == least) pick.matched_blocks = best_matched;
    return pick;
  }
  const double limit = options.affinity_load_ratio * static_cast<double>(cost(views[least])) +
                       static_cast<double>(options.affinity_slack_tokens) +
                       static_cast<double>(kPrefixBlockTokens) * best_matched;
  if (static_cast<double>(cost(views[best_affinity])) <= limit) {
    pick.worker = best_affinity;
    pick.matched_blocks = best_matched;
    pick.by_affinity = true;
  }
  return pick;
}

Scheduler::Scheduler(std::vector<std::shared_ptr<WorkerClient>> workers, SchedulerOptions options)
    : workers_(std::move(workers)),
      options_(std::move(options)),
      mailbox_(std::make_shared<Mailbox>()),
      inflight_per_worker_(workers_.size(), 0) {
  absl::Status valid = options_.Validate();
  if (valid.ok() && workers_.empty()) valid = absl::InvalidArgumentError("scheduler: no workers");
  for (const auto& w : workers_) {
    if (w == nullptr) valid = absl::InvalidArgumentError("scheduler: null worker");
  }
  if (!valid.ok()) {
    fprintf(stderr, "Scheduler: %s\n", valid.ToString().c_str());
    std::abort();
  }
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() {
  mailbox_->Close();
  thread_.join();
  // The owner is gone: its state is ours now.
  FailWaiting(absl::UnavailableError("the router is shutting down"));
  for (const auto& [id, worker] : running_) workers_[worker]->Abort(id);
}

absl::Status Scheduler::Submit(WorkerRequest request, EventSink sink) {
  if (request.request_id.empty()) return absl::InvalidArgumentError("empty request id");
  if (request.prompt_ids.empty()) return absl::InvalidArgumentError("empty prompt");
  if (!AnyWorkerReady()) return absl::UnavailableError("no worker is ready");
  int64_t waiting = waiting_count_.load();
  do {
    if (waiting >= options_.max_waiting) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the router's queue is full (", options_.max_waiting, " requests waiting); retry later"));
    }
  } while (!waiting_count_.compare_exchange_weak(waiting, waiting + 1));
  auto waiting_request = std::make_shared<Waiting>(Waiting{std::move(request), std::move(sink)});
  mailbox_->Post([this, waiting_request] { AcceptOnOwner(std::move(*waiting_request)); });
  return absl::OkStatus();
}

void Scheduler::Cancel(std::string request_id) {
  mailbox_->Post([this, id = std::move(request_id)] { CancelOnOwner(id); });
}

bool Scheduler::AnyWorkerReady() const {
  for (const auto& w : workers_) {
    if (w->ready()) return true;
  }
  return false;
}

Scheduler::Stats Scheduler::stats() const {
  Stats s;
  s.waiting = waiting_count_.load();
  s.inflight = inflight_count_.load();
  s.dispatched = dispatched_count_.load();
  s.by_affinity = affinity_count_.load();
  return s;
}

void Scheduler::Loop() {
  while (true) {
    bool closed = false;
    const absl::Duration timeout =
        waiting_.empty() ? absl::InfiniteDuration() : options_.poll_interval;
    std::deque<Mailbox::Task> tasks = mailbox_->Take(timeout, &closed);
    for (auto& task : tasks) task();
    if (closed) return;  // The destructor ends what is left.
    DispatchWaiting();
  }
}

void Scheduler::AcceptOnOwner(Waiting waiting) {
  const std::string& id = waiting.request.request_id;
  bool duplicate = running_.contains(id);
  for (const Waiting& w : waiting_) duplicate |= w.request.request_id == id;
  if (duplicate) {
    --waiting_count_;
    WorkerEvent event;
    event.status = absl::AlreadyExistsError(absl::StrCat("request id ", id, " is in use"));
    waiting.sink(std::move(event));
    return;
  }
  waiting_.push_back(std::move(waiting));
}

void Scheduler::CancelOnOwner(const std::string& request_id) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->request.request_id != request_id) continue;
    EventSink sink = std::move(it->sink);
    waiting_.erase(it);
    --waiting_count_;
    WorkerEvent event;
    event.finish_reason = FinishReason::kAborted;
    sink(std::move(event));
    return;
  }
  auto it = running_.find(request_id);
  if (it != running_.end()) workers_[it->second]->Abort(request_id);
}

void Scheduler::FinishedOnOwner(const std::string& request_id, int worker) {
  auto it = running_.find(request_id);
  if (it == running_.end() || it->second != worker) return;
  running_.erase(it);
  --inflight_per_worker_[worker];
  --inflight_count_;
}

void Scheduler::FailWaiting(const absl::Status& status) {
  std::deque<Waiting> failed;
  failed.swap(waiting_);
  waiting_count_ -= static_cast<int64_t>(failed.size());
  for (Waiting& w : failed) {
    WorkerEvent event;
    event.status = status;
    w.sink(std::move(event));
  }
}

void Scheduler::DispatchWaiting() {
  if (waiting_.empty()) return;
  const int n = static_cast<int>(workers_.size());
  std::vector<LoadReport> reports(n);
  std::vector<WorkerView> views(n);
  bool any_ready = false;
  for (int w = 0; w < n; ++w) {
    const bool ready = workers_[w]->ready();
    any_ready |= ready;
    if (!ready) continue;
    reports[w] = workers_[w]->load();
    WorkerView& v = views[w];
    v.available = inflight_per_worker_[w] < options_.max_inflight_per_worker;
    v.load_tokens = reports[w].queued_tokens + reports[w].running_tokens;
    v.free_kv_blocks = reports[w].free_kv_blocks;
    v.total_kv_blocks = reports[w].total_kv_blocks;
    v.kv_block_tokens = reports[w].kv_block_tokens;
    v.inflight = inflight_per_worker_[w];
    v.recent_prefixes = &reports[w].recent_prefixes;
  }
  if (!any_ready) {
    FailWaiting(absl::UnavailableError("no worker is ready"));
    return;
  }
  while (!waiting_.empty()) {
    Waiting& head = waiting_.front();
    const std::vector<uint64_t> hashes =
        PrefixBlockHashes(head.request.prompt_ids, options_.affinity_blocks);
    const int64_t prompt_tokens = static_cast<int64_t>(head.request.prompt_ids.size());
    const WorkerPick pick = PickWorker(views, hashes, prompt_tokens, options_, rotate_);
    if (pick.worker < 0) return;  // Every worker is full: retry at the next poll or finish.
    const int w = pick.worker;
    rotate_ = (w + 1) % n;

    const std::string id = head.request.request_id;
    // The worker-side sink: forwards, and on the terminal event tells the owner.
    std::weak_ptr<Mailbox> mailbox = mailbox_;
    EventSink client_sink = head.sink;
    EventSink sink = [this, mailbox, client_sink, id, w](WorkerEvent event) {
      const bool terminal = event.terminal();
      client_sink(std::move(event));
      if (!terminal) return;
      if (auto box = mailbox.lock()) box->Post([this, id, w] { FinishedOnOwner(id, w); });
    };
    WorkerRequest request = head.request;
    const absl::Status submitted = workers_[w]->Submit(std::move(request), std::move(sink));
    if (!submitted.ok()) {
      LOG(WARNING) << "scheduler: " << workers_[w]->name() << " refused " << id << ": "
                   << submitted.ToString();
      views[w].available = false;
      if (absl::IsUnavailable(submitted) || absl::IsResourceExhausted(submitted)) continue;
      // The request itself is at fault: it fails.
      EventSink failed = std::move(head.sink);
      waiting_.pop_front();
      --waiting_count_;
      WorkerEvent event;
      event.status = submitted;
      failed(std::move(event));
      continue;
    }
    running_.emplace(id, w);
    ++inflight_per_worker_[w];
    ++inflight_count_;
    ++dispatched_count_;
    if (pick.by_affinity) ++affinity_count_;
    waiting_.pop_front();
    --waiting_count_;
    // Later picks in this pass see this request.
    WorkerView& v = views[w];
    v.load_tokens += prompt_tokens;
    v.free_kv_blocks -= (prompt_tokens + v.kv_block_tokens - 1) / std::max(v.kv_block_tokens, 1);
    ++v.inflight;
    v.available = v.inflight < options_.max_inflight_per_worker;
  }
}

}  // namespace moeserve::router
