"""Tests for the Predbat gateway integration."""
