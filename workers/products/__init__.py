"""The products service: items for sale, their search, and their part of the purchase saga."""
