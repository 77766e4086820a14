"""The scheduled re-engagement run: a planner fans a parallel scan of the Customers table out to
workers, which re-segment every customer they visit and publish ``Customer Lapsed`` events for the
ones due a win-back. The email itself is sent by the Customer Lapsed trigger, as for a store's event.
"""
