"""The send path's rooms: ``rules`` (judge the profile), ``records`` (the delivery record, decided
once), ``protocol`` (claim, take the slot, send, record) and ``compose`` (the email itself).
``nudge.pipeline`` runs them for one event."""
