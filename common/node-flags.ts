// Node (V8) flags a broker process runs with, as Kafka's and RocketMQ's start scripts set their JVM's
// GC options. The local cluster launcher puts them on each broker's command line, the Kubernetes
// manifests in the broker container's command (deploy/k8s/base/broker-*.yaml; --no-memory-reducer
// is not allowed in NODE_OPTIONS); a broker started by hand should get them too (docs/broker.md
// "Node flags").
//
// --max-semi-space-size=8 (MiB; Node 20's default is 16): V8 starts a new incremental marking
// cycle as soon as the old generation's headroom (allocation limit − size) is below the young
// generation's capacity. A broker's live heap is a few tens of MB, so with the default the
// headroom after each full GC stays below that capacity and V8 marks without pause: full GCs
// back to back, each pause a stall of every message then in flight. A smaller young generation
// keeps the headroom above it, for the same CPU per message.
//
// --no-memory-reducer: some time into a steady load V8's memory reducer shrinks the heap, after
// which the same rule holds at the smaller heap, with full GCs close together for as long as the
// load lasts. A broker's heap is a few tens of MB; giving memory back to the OS under load is not
// worth the tail latency.
//
// --initial-old-space-size=64 (MiB): the same rule, from the other side. The compiled broker's
// heap holds little besides its live data (no compiled sources or source maps of a runtime
// transpiler), so the old generation's allocation limit sat close to its size and V8 marked almost
// without pause; a larger initial old generation keeps the headroom above the young generation's
// capacity. Numbers: docs/performance.md "Numbers that shaped the code" and "The e2e
// tail: JIT warm-up and the master's full GCs".
export const BROKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--no-memory-reducer', '--initial-old-space-size=64'];
