"""Identity and access: districts, branches, staff, roles and API tokens."""
