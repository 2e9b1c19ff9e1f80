# Sourced first by the benchmarks that run bthelper or btpublish at their defaults. At defaults
# the DHT looks up its public routers and local discovery multicasts on every interface; where it
# can (root, or unprivileged user namespaces), the benchmark re-runs itself in a network
# namespace of its own with only loopback up: the network the defaults must cope with (no route
# to the DHT), and nothing leaves this host. BENCH_HOST_NETWORK=1 runs it on the host's network.
if [ -z "${BENCH_IN_NETNS:-}" ] && [ -z "${BENCH_HOST_NETWORK:-}" ] && unshare -rn true 2>/dev/null; then
  exec unshare -rn env BENCH_IN_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
if [ -n "${BENCH_IN_NETNS:-}" ]; then
  echo "(running in a network namespace of its own: loopback only, no route to the DHT; BENCH_HOST_NETWORK=1 to run on the host's network)"
fi
