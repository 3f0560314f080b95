"""Texts to the applicant: what to say (`texts`), on which event (`notices`, the one place
that decides), and the transactional outbox that sends them exactly once (`outbox`)."""
