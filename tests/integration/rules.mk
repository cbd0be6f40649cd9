# pytest integration suites. The `kvm` fixture (conftest.py) decides where
# KVM tests run: directly on hardware KVM, or in the testbox.

integration: all
	$(PYTHON) -m pytest -v -rs tests/integration
