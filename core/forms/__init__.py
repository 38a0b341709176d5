"""Forms (一事一表): plugins declare pydantic models; the core validates, stores, renders."""
