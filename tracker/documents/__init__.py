"""Official documents (公文) the supervision office issues: the circular (通报) and the
督办通知单, laid out after GB/T 9704-2012 from Word templates the office may replace."""
