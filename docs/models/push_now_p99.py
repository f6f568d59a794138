#!/usr/bin/env python3
"""The floor of push-now latency (fresh collection) under the sandbox's latency model.

Every provider answer is lognormal (median 250 ms, p99 1.5 s: sigma = ln(6) / 2.326) plus
0-50 ms of transit. A push-now of a never-collected tenant is: Graph sign-in, then the slowest
of 7 Graph reads and the SKUs -> Copilot usage chain, beside the Exchange sign-in and the slowest
of 3 cmdlets; then the IT Glue lookup and the write (writes are never hedged). Reads are hedged
after `--hedge` seconds (the first answer of two copies wins).

    python3 docs/models/push_now_p99.py            # hedge at 1 s, as the product does
    python3 docs/models/push_now_p99.py --hedge 0  # no hedging
"""
import argparse
import math
import random

SIGMA = math.log(6) / 2.326


def answer():
    return 0.25 * math.exp(random.gauss(0, SIGMA)) + random.uniform(0, 0.05)


def read(hedge):
    first = answer()
    if not hedge or first <= hedge:
        return first
    return min(first, hedge + answer())


def push_now(hedge):
    graph = read(hedge) + max([read(hedge) for _ in range(7)] + [read(hedge) + read(hedge)])
    exchange = read(hedge) + max(read(hedge) for _ in range(3))
    return max(graph, exchange) + answer() + answer()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hedge", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=100_000)
    args = parser.parse_args()
    random.seed(7)
    times = sorted(push_now(args.hedge) for _ in range(args.samples))
    p = lambda q: times[int(q * (len(times) - 1))]
    print(f"hedge {args.hedge} s: p50 {p(0.5):.2f} s, p99 {p(0.99):.2f} s")


if __name__ == "__main__":
    main()
