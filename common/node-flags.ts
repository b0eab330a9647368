// Node (V8) flags a broker process runs with, as Kafka's and RocketMQ's start scripts set their JVM's
// GC options. The local cluster launcher puts them on each broker's command line; the Kubernetes
// manifests set them through NODE_OPTIONS (deploy/k8s/base/broker-config.yaml); a broker started
// by hand should get them too (docs/broker.md "Node flags").
//
// --max-semi-space-size=8 (MiB; Node 20's default is 16): V8 starts a new incremental marking
// cycle as soon as the old generation's headroom (allocation limit − size) is below the young
// generation's capacity. With a broker's live heap of ~30–45 MB the headroom after each full GC
// is ~22–25 MB, below the default's capacity, so V8 marked without pause — a full GC every
// ~0.5 s with 3–16 ms pauses, each a stall of every message then in flight (e2e p99 5.6 → 2.5 ms
// after warm-up, full GCs in 45 s 22 → 4, scavenges 220 → 420, CPU per message equal;
// docs/performance.md "The e2e tail: the master's GC").
export const BROKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
