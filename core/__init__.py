"""MNIST Playground logic: no Streamlit here, so everything is testable with pytest."""
