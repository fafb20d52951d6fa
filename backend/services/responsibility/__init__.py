"""The responsibility map (责任清单): units, categories, regions and rules, routing a report by them, and the
audit trail of their changes."""
