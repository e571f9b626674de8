"""The face eMSPs call: locations/tariffs/sessions/CDRs SENDER, tokens and commands RECEIVER."""
