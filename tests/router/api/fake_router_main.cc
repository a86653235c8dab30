// A router on fake workers, for end-to-end tests with real clients: serves the OpenAI API on
// 127.0.0.1 (ephemeral port), prints "PORT <n>" on stdout, and exits when stdin closes.
//
// Usage: fake_router <tokenizer.json> [model_id]
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "router/api/http_server.h"
#include "router/api/router_service.h"
#include "tests/router/scheduler/fake_worker_client.h"
#include "router/scheduler/scheduler.h"
#include "router/tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  using namespace moeserve;
  if (argc < 2) {
    std::cerr << "usage: fake_router <tokenizer.json> [model_id]\n";
    return 2;
  }
  auto tokenizer = tokenizer::Tokenizer::FromFile(argv[1]);
  if (!tokenizer.ok()) {
    std::cerr << tokenizer.status() << "\n";
    return 1;
  }
  std::vector<std::shared_ptr<router::WorkerClient>> workers;
  for (int i = 0; i < 2; ++i) {
    router::FakeWorkerOptions o;
    o.name = "fake-" + std::to_string(i);
    o.eos_token_id = 151643;  // <|endoftext|>
    workers.push_back(std::make_shared<router::FakeWorkerClient>(o));
  }
  auto scheduler = std::make_unique<router::Scheduler>(workers, router::SchedulerOptions{});
  router::api::RouterServiceOptions options;
  if (argc > 2) options.model_id = argv[2];
  router::api::RouterService service(options, tokenizer->get(), scheduler.get(),
                                     [s = scheduler.get()] { return s->AnyWorkerReady(); });
  router::api::HttpServerOptions http;
  http.address = "127.0.0.1";
  http.port = 0;
  router::api::HttpServer server(http);
  service.Register(&server);
  if (absl::Status started = server.Start(); !started.ok()) {
    std::cerr << started << "\n";
    return 1;
  }
  std::cout << "PORT " << server.port() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  server.Stop();
  scheduler.reset();
  return 0;
}
