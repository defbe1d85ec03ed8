from seqcls.messages import note, severity, warning


def test_messages_carry_their_severity_as_data():
    told = note("output.tensorboard is ignored")
    assert severity(told) == "note" and told == "note: output.tensorboard is ignored"
    assert severity(warning("weights lost")) == "warning"
    # A plain string is information, whatever its text says.
    assert severity("warning: only text") == "info"
    assert isinstance(told, str) and "tensorboard" in told
