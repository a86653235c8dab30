// Collects one request's WorkerEvents for tests, and waits for the terminal one.
#ifndef MOESERVE_TESTS_ROUTER_SCHEDULER_EVENT_COLLECTOR_H_
#define MOESERVE_TESTS_ROUTER_SCHEDULER_EVENT_COLLECTOR_H_

#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/scheduler/worker_client.h"

namespace moeserve::router::testing {

class EventCollector {
 public:
  EventSink Sink() {
    return [state = state_](WorkerEvent event) {
      absl::MutexLock lock(&state->mu);
      state->events.push_back(std::move(event));
    };
  }

  // Waits for the terminal event; false on timeout.
  bool WaitDone(absl::Duration timeout = absl::Seconds(10)) const {
    absl::MutexLock lock(&state_->mu);
    auto done = [s = state_.get()]() ABSL_SHARED_LOCKS_REQUIRED(s->mu) {
      return !s->events.empty() && s->events.back().terminal();
    };
    return state_->mu.AwaitWithTimeout(absl::Condition(&done), timeout);
  }

  std::vector<WorkerEvent> events() const {
    absl::MutexLock lock(&state_->mu);
    return state_->events;
  }
  std::vector<int32_t> tokens() const {
    std::vector<int32_t> out;
    for (const WorkerEvent& e : events())
      out.insert(out.end(), e.token_ids.begin(), e.token_ids.end());
    return out;
  }
  WorkerEvent last() const {
    absl::MutexLock lock(&state_->mu);
    return state_->events.empty() ? WorkerEvent{} : state_->events.back();
  }
  int terminal_count() const {
    int n = 0;
    for (const WorkerEvent& e : events()) n += e.terminal();
    return n;
  }

 private:
  struct State {
    absl::Mutex mu;
    std::vector<WorkerEvent> events ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace moeserve::router::testing

#endif  // MOESERVE_TESTS_ROUTER_SCHEDULER_EVENT_COLLECTOR_H_
