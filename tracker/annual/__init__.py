"""The annual work: executive meetings, the checkpoint, the scorecard (考核记分卡)."""
