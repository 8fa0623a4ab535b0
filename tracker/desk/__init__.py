"""The supervision office's desk: the board, the ledger (台账), an item's history."""
