"""Exercises a learner solves and handgrad grades (``handgrad exercise``)."""

from handgrad.exercises.catalog import BY_NAME, EXERCISES, Exercise

__all__ = ["EXERCISES", "BY_NAME", "Exercise"]
