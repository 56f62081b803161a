"""Safety: laboratory units, reference ranges and CTCAE v5 grades; adverse-event seriousness,
SUSAR notification deadlines; MRI findings; protocol stopping rules."""
