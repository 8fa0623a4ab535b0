"""Operations: the health report (`doctor`), backups, logs."""
