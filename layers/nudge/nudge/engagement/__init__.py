"""What recipients do with the emails: SES's delivery, open and click events applied to the delivery
record and the profile (``nudge.engagement.apply``)."""
