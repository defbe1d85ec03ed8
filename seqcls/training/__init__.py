"""Training in stages (prepare -> build -> fit -> finish, orchestrated by
training.train), its callbacks, checkpoints and signals, resume, distribution
strategies and their loop, and the process-wide runtime settings."""
