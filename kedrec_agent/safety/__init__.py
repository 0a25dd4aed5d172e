"""The safety stage: interactions, allergy conflicts and duplicate therapy of a recommendation."""
