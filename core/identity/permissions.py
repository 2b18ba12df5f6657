"""The catalogue of staff permissions and the roles seeded with them.

A permission is a dotted name that a back-office route declares; roles group permissions. The
catalogue lives in code because routes refer to these names; a later issue adds its permissions
here and grants them to roles in its migration.
"""

from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    "dashboard.view": "See the back-office dashboard and the API info.",
    "clients.read": "Look up clients and their 360 view.",
    "clients.edit": "Edit client details, notes, tasks and tags.",
    "clients.assign": "Assign clients to staff (sales assignment).",
    "leads.manage": "Create, import, assign and convert leads, and keep their notes and tasks.",
    "kyc.review": "Review and decide KYC cases.",
    "accounts.approve": "Approve trading accounts and leverage changes.",
    "dealing.manage": "Manage platforms, groups, symbols and trading accounts.",
    "cashier.approve_deposit": "Approve bank-wire deposits.",
    "cashier.approve_withdrawal": "Approve or reject withdrawals.",
    "ib.manage": "Manage IB partners, hierarchy and commission schemes.",
    "reports.read": "Open reports and export them.",
    "settings.edit": "Change product and system settings.",
    "audit.read": "Read and export the audit log.",
    "staff.manage": "Create staff, change their roles, disable them, reset their 2FA.",
    "roles.manage": "Create roles and change which permissions they hold.",
    "mail.dev_mailbox": "Read the development mailbox (mail kept when no SMTP server is set).",
    "risk.manage": "Work the risk alert queue: see alerts, assign them and resolve them.",
    "settings.view": "Open the settings index (each screen still needs its own permission).",
    "settings.company": "Change the company details shown to clients and in mails.",
    "settings.bank": "Change the bank-wire instructions clients see on the deposit page.",
    "settings.limits": "Change deposit and withdrawal limits and the four-eyes threshold.",
    "settings.fees": "Change deposit and withdrawal fees.",
    "mail.templates": "Edit, preview and reset the mail templates.",
    "announcements.manage": "Write, schedule and publish announcements to clients.",
    "jobs.manage": "See background jobs that failed for good (dead letters), retry or discard them.",
    "campaigns.manage": "Write, send or schedule marketing mail to saved segments, and see the results.",
    "knowledge.manage": "Write, preview and publish help-centre articles and their categories.",
    "webhooks.manage": "Register webhook endpoints, rotate their secrets, see deliveries and replay them.",
    "support.manage": "Work the support queue: read, reply, write internal notes, assign, change status.",
    "support.settings": "Manage the support canned replies and the SLA targets per priority.",
    "settings.analytics": "Change the churn-risk and value-tier thresholds of the client figures.",
}

ALL_PERMISSIONS: frozenset[str] = frozenset(PERMISSIONS)

SEEDED_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    "admin": ("Everything, including staff and roles.", ALL_PERMISSIONS),
    "compliance": (
        "KYC reviews, client look-up, audit log and reports.",
        frozenset(
            {"dashboard.view", "clients.read", "kyc.review", "audit.read", "reports.read", "risk.manage"}
        ),
    ),
    "finance": (
        "Deposits, withdrawals and money reports.",
        frozenset(
            {
                "dashboard.view",
                "clients.read",
                "cashier.approve_deposit",
                "cashier.approve_withdrawal",
                "reports.read",
                "settings.view",
                "settings.bank",
                "settings.limits",
                "settings.fees",
            }
        ),
    ),
    "dealing": (
        "Trading platforms, accounts and leverage.",
        frozenset({"dashboard.view", "clients.read", "accounts.approve", "dealing.manage"}),
    ),
    "ib_manager": (
        "IB partners, schemes and commissions.",
        frozenset({"dashboard.view", "clients.read", "ib.manage", "reports.read"}),
    ),
    "support": (
        "Client look-up and edits, and the development mailbox.",
        frozenset(
            {
                "dashboard.view",
                "clients.read",
                "clients.edit",
                "clients.assign",
                "leads.manage",
                "mail.dev_mailbox",
                "settings.view",
                "mail.templates",
                "announcements.manage",
                "campaigns.manage",
                "knowledge.manage",
                "support.manage",
                "support.settings",
                "settings.analytics",
            }
        ),
    ),
    "read_only": ("Look, never touch.", frozenset({"dashboard.view", "clients.read", "reports.read"})),
}
