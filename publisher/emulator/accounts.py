"""Who is calling: the emulator maps access key ids to AWS account ids, as IAM would.

By default two identities exist: the partner (access key `partner`, account 123456789012),
who creates partner event sources and sends events, and one customer (access key `customer`,
account 111122223333), who owns the partner event bus, the event integration and the Customer
Profiles domain. `--account AKID=ACCOUNT` (repeatable) replaces that map. Any access key not
in the map acts for the partner account, so scripts that sign with made-up keys keep working
for the partner's side. Who may call what: docs/aws-contract.md, "Accounts".
"""

from __future__ import annotations

import re

PARTNER_ACCOUNT = "123456789012"
CUSTOMER_ACCOUNT = "111122223333"
PARTNER_ACCESS_KEY = "partner"
CUSTOMER_ACCESS_KEY = "customer"
ACCOUNT_ID_PATTERN = re.compile(r"\d{12}")


def default_accounts() -> dict[str, str]:
    """The documented identities: one partner and one customer."""
    return {PARTNER_ACCESS_KEY: PARTNER_ACCOUNT, CUSTOMER_ACCESS_KEY: CUSTOMER_ACCOUNT}


def parse_account(text: str) -> tuple[str, str]:
    """`AKID=123456789012` as (access key id, account id); ValueError names what is wrong."""
    access_key, sep, account = text.partition("=")
    if not sep or not access_key:
        raise ValueError(f"expected ACCESS_KEY_ID=ACCOUNT_ID, got {text!r}")
    if ACCOUNT_ID_PATTERN.fullmatch(account) is None:
        raise ValueError(f"account id must be 12 digits, got {account!r}")
    return access_key, account


def account_of(accounts: dict[str, str], access_key: str, partner_account: str) -> str:
    """The account an access key acts for; unknown keys act for the partner."""
    return accounts.get(access_key, partner_account)
