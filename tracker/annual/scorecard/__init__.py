"""The annual scorecard (考核记分卡): figures from the database, then the Excel workbook."""
