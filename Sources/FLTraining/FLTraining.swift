// FLTraining
