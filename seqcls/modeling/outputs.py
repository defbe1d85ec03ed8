"""The names of the models' outputs, shared by the model builder, the tasks that read
the outputs, and the commands that show them."""

PROBABILITIES = "probabilities"
ATTENTION_WEIGHTS = "attention_weights"
TOKEN_IDS = "token_ids"
# An ensemble's members' probabilities side by side (batch, members, ...): what its
# training model outputs; predictions use their average, PROBABILITIES.
MEMBER_PROBABILITIES = "member_probabilities"
