"""Dates: working days of the Chinese calendar (Asia/Shanghai) and reporting periods."""
