# Fuzzing rules (included by the Makefile): `make fuzz`.
.PHONY: fuzz
fuzz:
	@echo "no fuzz harnesses yet"
