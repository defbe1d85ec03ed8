"""Reading labelled data: strict CSV/TSV/JSONL readers, the bad-row policy, the
splits and their labels, streamed (larger than memory) training data, and the data
checks `seqcls validate` reports."""
