"""The vocabulary every part of modellens shares; imports no other part of the package."""
