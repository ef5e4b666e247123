#!/usr/bin/env python3
"""A model of issue 15's rolling update on one link every node shares.

Swarm replaces 3 replicas one at a time (stop-first, parallelism 1) in a
random slot order, as swarmkit's updater takes them from a Go map. Every
download in flight shares the link equally; an agent's pull and swarm's own on
the same node are one download (the engine joins them). The policies:
  swarm              no agents (the service labelled swarm-prepull.skip)
  uncapped           every node's agent pulls as the update starts
  cap1_no_takeback   --max-pulls-per-registry 1; a node where swarm starts a
                     task comes first when the slot frees
  cap1_takeback      the same, and a warming grant is taken back (its partial
                     download lost) once the controller's busy pass (1 s) sees
                     the task
Times are the sandbox's: 100 MB at 25 MB/s (200 Mbit/s), 0.3 s to stop a task,
0.9 s to start one. docs/benchmarks.md compares it with the measured runs.

    python3 bench/rollout_model.py [ROLLOUTS]
"""
import random
import statistics
import sys


def rollout(policy, rng, nodes=3, rate=25.0, size=100.0, stop=0.3, start=0.9,
            busy_pass=1.0, dt=0.005, first_pass=0.02):
    order = list(range(nodes))
    rng.shuffle(order)
    phase = rng.uniform(0, busy_pass)
    held = [0.0] * nodes          # MB of the download under way
    done = [False] * nodes
    granted = [False] * nodes     # an agent's pull with a grant
    preparing = [False] * nodes   # swarm's own pull for a task
    seen = [False] * nodes        # the controller has seen that task
    cap = None if policy in ('swarm', 'uncapped') else 1

    def fill():
        if policy == 'swarm':
            return
        waiting = [n for n in range(nodes) if seen[n] and not done[n] and not granted[n]]
        waiting += [n for n in range(nodes) if not seen[n] and not done[n] and not granted[n]]
        for n in waiting:
            if cap is not None and sum(granted) >= cap:
                victims = [v for v in range(nodes) if granted[v] and not seen[v]]
                if policy != 'cap1_takeback' or not seen[n] or not victims:
                    break
                granted[victims[0]] = False
                if not preparing[victims[0]]:
                    held[victims[0]] = 0.0  # cancelled: the engine keeps no partial layer
            granted[n] = True

    t, slot, stage, stage_end, started = 0.0, 0, 'stop', stop, False
    while True:
        if not started and t >= first_pass:
            started = True
            fill()
        if policy != 'swarm' and int((t + phase) / busy_pass) != int((t + phase - dt) / busy_pass):
            for n in range(nodes):
                seen[n] = seen[n] or preparing[n]
            fill()
        flows = [n for n in range(nodes) if not done[n] and (granted[n] or preparing[n])]
        for n in flows:
            held[n] += rate / len(flows) * dt
            if held[n] >= size:
                done[n], granted[n] = True, False
                fill()
        node = order[slot]
        if stage == 'stop' and t >= stage_end:
            stage, preparing[node] = 'prepare', not done[node]
        if stage == 'prepare' and done[node]:
            preparing[node], stage, stage_end = False, 'start', t + start
        if stage == 'start' and t >= stage_end:
            slot += 1
            if slot == nodes:
                return t
            stage, stage_end = 'stop', t + stop
        t += dt


def main():
    rng = random.Random(1)
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    alone = statistics.mean(rollout('swarm', rng) for _ in range(50))
    print(f"swarm alone: {alone:.2f} s")
    for policy in ('uncapped', 'cap1_no_takeback', 'cap1_takeback'):
        times = [rollout(policy, rng) for _ in range(count)]
        mean = statistics.mean(times)
        print(f"{policy}: mean {mean:.2f} s ({mean / alone:.2f}x swarm alone), "
              f"min {min(times):.2f}, max {max(times):.2f}, n={count}")


if __name__ == '__main__':
    main()
