"""Computes what Google's dp_accounting (PyPI: dp-accounting) says the sampled Gaussian mechanism
spends, for the grid SwiftFL's accountant is compared on, and prints it as JSON:

{"epsilons": [{"q", "sigma", "steps", "delta", "epsilon", "order"}, ...],
 "rdp": [{"q", "sigma", "steps", "orders": [...], "rdp": [...]}, ...]}

`epsilons` use RdpAccountant's default orders (all integers); `rdp` uses fractional orders too, so
both of the accountant's expansions are compared.

Usage: python3 dp_accounting_interop.py
"""
import json
import math
import sys

from absl import logging
import dp_accounting
from dp_accounting.rdp import rdp_privacy_accountant


def event(q, sigma, steps):
    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)


def finite(x):
    # JSON has no infinity: the Swift side reads null as infinity.
    return x if math.isfinite(x) else None


def main() -> None:
    # Orders whose series does not settle are left out with a warning each; that is expected here.
    logging.set_verbosity(logging.ERROR)
    epsilons = []
    for q in [0.01, 0.1, 0.5, 1.0]:
        for sigma in [0.7, 1.1, 2.0, 5.0]:
            for steps in [1, 10, 100]:
                for delta in [1e-5, 1e-8]:
                    accountant = rdp_privacy_accountant.RdpAccountant()
                    accountant.compose(event(q, sigma, steps))
                    epsilon, order = accountant.get_epsilon_and_optimal_order(delta)
                    epsilons.append({"q": q, "sigma": sigma, "steps": steps, "delta": delta,
                                     "epsilon": finite(float(epsilon)), "order": float(order)})
    rdp = []
    orders = [1.5, 1.75, 2.5, 3.25, 7.5, 20.5, 64.5]
    for q in [0.01, 0.2, 0.6]:
        for sigma in [0.8, 1.5, 4.0]:
            accountant = rdp_privacy_accountant.RdpAccountant(orders)
            accountant.compose(event(q, sigma, 3))
            rdp.append({"q": q, "sigma": sigma, "steps": 3, "orders": orders,
                        "rdp": [finite(float(r)) for r in accountant._rdp]})
    json.dump({"epsilons": epsilons, "rdp": rdp}, sys.stdout)


if __name__ == "__main__":
    main()
