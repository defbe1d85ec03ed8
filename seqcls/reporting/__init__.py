"""What the user sees: the live training display, metrics tables and their CSV
files, plots, the HTML report and the attention explanations."""
