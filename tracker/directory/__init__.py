"""The directory shared by all plans: agencies, contacts, signed links, staff accounts."""
