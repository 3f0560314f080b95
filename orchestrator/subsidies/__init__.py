"""Subsidies as district policy: free seals and courier, paid from a monthly budget through an
append-only ledger in integer fen, and reimbursed to the vendors month by month.

`policy` says what is free for a filing, `ledger` reserves, settles and releases it (the
filings domain calls it at acceptance, completion and cancellation), `reimbursement` reports
and approves a month per vendor.
"""
