"""Workers of the systems ``benchmarks.compare`` runs beside this project (see ``common``)."""
