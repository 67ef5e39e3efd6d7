// PghaPlan
