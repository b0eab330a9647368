// Node (V8) flags a broker process runs with, as Kafka's and RocketMQ's start scripts set their JVM's
// GC options. The local cluster launcher puts them on each broker's command line, the Kubernetes
// manifests in the broker container's command (deploy/k8s/base/broker-*.yaml; --no-memory-reducer
// is not allowed in NODE_OPTIONS); a broker started by hand should get them too (docs/broker.md
// "Node flags").
//
// --max-semi-space-size=8 (MiB; Node 20's default is 16): V8 starts a new incremental marking
// cycle as soon as the old generation's headroom (allocation limit − size) is below the young
// generation's capacity. With a broker's live heap of ~30–45 MB the headroom after each full GC
// is ~22–25 MB, below the default's capacity, so V8 marked without pause — a full GC every
// ~0.5 s with 3–16 ms pauses, each a stall of every message then in flight (e2e p99 5.6 → 2.5 ms
// after warm-up, full GCs in 45 s 22 → 4, scavenges 220 → 420, CPU per message equal;
// docs/performance.md "The e2e tail: JIT warm-up and the master's full GCs").
//
// --no-memory-reducer: ~100 s into a steady load V8's memory reducer shrank the master's heap
// (31.6 → 18.4 MB), after which the same rule held at the smaller heap — a full GC every ~650 ms
// for as long as the load lasted (e2e p99 per 15 s 2 → 6.5–8.8 ms; a 5-minute run's p99 7.6 ms).
// Without it: two full GCs in 150 s, p99 per 15 s 2.6–4.7 ms, CPU per message not higher. A
// broker's heap is a few tens of MB; giving memory back to the OS under load is not worth that.
export const BROKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--no-memory-reducer'];
