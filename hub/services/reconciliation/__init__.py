"""CDR reconciliation between the hub's store, each CPO's CDR list and each eMSP's
acknowledgements: pull, findings, stored reports and their export."""
