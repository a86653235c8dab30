// Request bookkeeping shared by the Transport implementations: a table of per-request state
// addressed by Request ids that carry a generation, so a stale or forged id is caught instead of
// touching a reused slot. Slots are reused (no allocation in steady state) and never move, so a
// pointer to one can be handed to a C library as callback user data.
//
// Thread-safety: none; owned by the transport's driving thread.
#ifndef MOESERVE_COMMON_TRANSPORT_REQUESTS_H_
#define MOESERVE_COMMON_TRANSPORT_REQUESTS_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

// Invariant checks crash loudly (a misused request id is a programming error, not a status).
#define MOESERVE_TRANSPORT_CHECK(cond, what)                                                   \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "%s:%d: transport invariant failed: %s (%s)\n", __FILE__, __LINE__, \
                   #cond, what);                                                               \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace moeserve::transport_internal {

template <typename State>
class RequestTable {
 public:
  // A fresh State (default-constructed values) and its id (never 0).
  std::pair<uint64_t, State*> Acquire() {
    uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<uint32_t>(slots_.size());
      slots_.push_back(std::make_unique<Slot>());
    }
    Slot& slot = *slots_[index];
    slot.live = true;
    ++live_;
    return {(uint64_t{slot.generation} << 32) | (index + 1), &slot.state};
  }

  // The live state for `id`, or nullptr when the id is unknown or released.
  State* Find(uint64_t id) {
    const uint64_t index = (id & 0xffffffffu);
    if (index == 0 || index > slots_.size()) return nullptr;
    Slot& slot = *slots_[index - 1];
    if (!slot.live || slot.generation != (id >> 32)) return nullptr;
    return &slot.state;
  }

  // Releases a live id; its State is reset for reuse.
  void Release(uint64_t id) {
    const uint32_t index = static_cast<uint32_t>(id & 0xffffffffu) - 1;
    Slot& slot = *slots_[index];
    slot.live = false;
    ++slot.generation;
    slot.state = State{};
    free_.push_back(index);
    --live_;
  }

  // Calls f(id, State&) for every live request.
  template <typename F>
  void ForEach(F&& f) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = *slots_[i];
      if (slot.live) f((uint64_t{slot.generation} << 32) | (i + 1), slot.state);
    }
  }

  size_t live() const { return live_; }

 private:
  struct Slot {
    uint32_t generation = 1;
    bool live = false;
    State state;
  };
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
};

}  // namespace moeserve::transport_internal

#endif  // MOESERVE_COMMON_TRANSPORT_REQUESTS_H_
