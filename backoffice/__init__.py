"""The staff back office: approvals, CRM, settings and reports. Never exposed with the portal."""
