"""Login throttling: slow password guessing without locking the real user out.

Every attempt is *counted before its password is checked*, in one database transaction
(``Store.claim_attempt``), so a burst of simultaneous logins gets no more password checks than the
limit; a successful login takes its own count back. Counts live in the database and survive a
restart. The keys an attempt counts under (``n`` = ``Settings.login_max_failures``, ``w`` =
``Settings.login_window_seconds``; defaults 5 and 5 minutes):

* from a browser that has logged into this account before (it holds the signed *device cookie*
  set at that login): only that device, ``n`` per ``w``. Nothing an attacker does elsewhere
  can lock this browser out — the real user keeps getting in;
* from anywhere else: the (account, address) pair, ``n`` per ``w``; the address across all
  accounts, ``4n`` per ``w`` (password spraying); and the account across all such clients,
  ``10n`` per ``12w`` (guessing from many addresses: 50 per hour).

So a wrong-password storm against an account locks out only the storming address and, at worst,
new browsers of that account for up to an hour; ``lungdx users unlock NAME`` clears it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..i18n import N_, T_
from ..store.throttle import ThrottleLimit

#: An address may fail this many times more than one (account, address) pair.
ADDRESS_FACTOR = 4
#: Attempts on one account from browsers without its device cookie: this many times ``n`` ...
ACCOUNT_FACTOR = 10
#: ... within this many times the window.
ACCOUNT_WINDOW_FACTOR = 12


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window_seconds: float

    def limits(self, account: str, address: str, device: str | None = None) -> list[ThrottleLimit]:
        """The keys one attempt counts under (see the module docstring)."""
        n, w = self.max_failures, self.window_seconds
        if device:
            return [ThrottleLimit(f"device:{account}:{device}", n, w)]
        return [ThrottleLimit(f"pair:{account}|{address}", n, w),
                ThrottleLimit(f"ip:{address}", n * ADDRESS_FACTOR, w),
                ThrottleLimit(f"user:{account}", n * ACCOUNT_FACTOR, w * ACCOUNT_WINDOW_FACTOR)]

    @staticmethod
    def cleared_on_success(limits: list[ThrottleLimit]) -> list[str]:
        """A right password clears its own pair/device; account- and address-wide counts stay."""
        return [lim.key for lim in limits if lim.key.startswith(("pair:", "device:"))]


def account_key(username: str) -> str:
    """Accounts are throttled case-insensitively (``Dr_X`` and ``dr_x`` share a count)."""
    return username.lower()


#: What a refused login reads; the login page translates both (the number is filled into the template).
WAIT_A_MINUTE = N_("Too many failed attempts. Try again in a minute.")
WAIT_MINUTES = T_("Too many failed attempts. Try again in {minutes} minutes.")


def wait_message(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return WAIT_A_MINUTE if minutes == 1 else WAIT_MINUTES.format(minutes=minutes)
