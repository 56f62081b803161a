"""The cell product: FCS reading, flow cytometry identity, dose, release specification."""
