"""The face CPOs call: locations/tariffs/sessions/CDRs RECEIVER, tokens SENDER, command results."""
